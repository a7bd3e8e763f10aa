"""Tests for the medication guardrails: personal decisions are caught, education is not."""

from __future__ import annotations

import pytest

from bot.services.guardrails import (
    GuardrailKind,
    GuardrailMatch,
    RouteKind,
    classify_medication_question,
    route_question,
)
from bot.services.lexicon import Lexicon
from bot.services.library_files import bundled_lexicon

POSITIVE: list[tuple[str, GuardrailKind, tuple[str, ...]]] = [
    # dose changes
    ("can I take two suboxone today", "dose_change", ("buprenorphine",)),
    ("should I up my methadone", "dose_change", ("methadone",)),
    ("how many mg of bupe should i take", "dose_change", ("buprenorphine",)),
    ("can I cut my dose in half", "dose_change", ()),
    ("is it ok to double my dose if I missed yesterday", "dose_change", ()),
    ("can i take an extra methadone dose tonight", "dose_change", ("methadone",)),
    ("should I lower my Suboxone to 4mg", "dose_change", ("buprenorphine",)),
    ("I want to increase my naltrexone", "dose_change", ("naltrexone",)),
    ("I missed my methadone this morning, should I take it now?", "dose_change", ("methadone",)),
    ("can I split my suboxone film", "dose_change", ("buprenorphine",)),
    ("what dose of vivitrol should I get", "dose_change", ("naltrexone",)),
    ("can i skip my antabuse today", "dose_change", ("disulfiram",)),
    ("should I take my methadone dose earlier tomorrow", "dose_change", ("methadone",)),
    ("¿Puedo subir la dosis de metadona?", "dose_change", ("methadone",)),
    ("¿Cuántos miligramos de buprenorfina debo tomar?", "dose_change", ("buprenorphine",)),
    ("can I take more subutex if I'm still in withdrawal", "dose_change", ("buprenorphine",)),
    # stopping
    ("can I stop taking naltrexone", "stop", ("naltrexone",)),
    ("I want to quit my antidepressant", "stop", ("antidepressant",)),
    ("should I come off suboxone", "stop", ("buprenorphine",)),
    ("can I taper off methadone faster", "stop", ("methadone",)),
    ("I'm thinking about stopping my Vivitrol shots", "stop", ("naltrexone",)),
    ("is it safe to just stop my meds", "stop", ()),
    ("¿Puedo dejar la metadona?", "stop", ("methadone",)),
    ("quiero dejar de tomar naltrexona", "stop", ("naltrexone",)),
    ("can I get off bupe", "stop", ("buprenorphine",)),
    ("I stopped taking my wellbutrin last week, is that ok", "stop", ("bupropion",)),
    ("do I have to keep taking chantix", "stop", ("varenicline",)),
    ("can I stop my sertraline cold turkey", "stop", ("antidepressant",)),
    # starting
    ("should I start vivitrol", "start", ("naltrexone",)),
    ("can I switch from methadone to suboxone", "start", ("methadone", "buprenorphine")),
    ("should I try antabuse", "start", ("disulfiram",)),
    ("do you think I should go on naltrexone", "start", ("naltrexone",)),
    ("¿Debo empezar a tomar vareniclina?", "start", ("varenicline",)),
    ("should I get the sublocade shot", "start", ("buprenorphine",)),
    ("should I take naltrexone or acamprosate", "start", ("naltrexone", "acamprosate")),
    ("I want to start chantix", "start", ("varenicline",)),
    # mixing
    ("can I drink on antabuse", "mixing", ("disulfiram",)),
    ("is it ok to take xanax with suboxone", "mixing", ("benzodiazepine", "buprenorphine")),
    ("can I smoke weed on methadone", "mixing", ("methadone",)),
    ("¿Puedo tomar alcohol con naltrexona?", "mixing", ("naltrexone",)),
    ("can I have a beer while on vivitrol", "mixing", ("naltrexone",)),
    ("is it safe to take tylenol with my methadone", "mixing", ("methadone",)),
    ("can I mix benzos and bupe", "mixing", ("benzodiazepine", "buprenorphine")),
    ("will one glass of wine hurt if I'm on antabuse", "mixing", ("disulfiram",)),
    ("can I drink coffee with my methadone", "mixing", ("methadone",)),
    ("¿Puedo fumar marihuana si tomo metadona?", "mixing", ("methadone",)),
    ("is it safe to use gabapentin with suboxone", "mixing", ("gabapentin", "buprenorphine")),
    ("can I take sleeping pills on methadone", "mixing", ("methadone",)),
    ("drinking on naltrexone ok?", "mixing", ("naltrexone",)),
    ("can i take my antabuse with a drink", "mixing", ("disulfiram",)),
    ("can I take subuxone with my xanax", "mixing", ("buprenorphine", "benzodiazepine")),
]

NEGATIVE: list[str] = [
    "how does methadone work",
    "what is dtms",
    "does tms hurt",
    "what is suboxone",
    "how long does vivitrol last",
    "what are the side effects of naltrexone",
    "is buprenorphine an opioid",
    "why is it dangerous to mix alcohol and methadone",
    "what does antabuse do if you drink",
    "how does naloxone reverse an overdose",
    "what is precipitated withdrawal",
    "can tms cause seizures",
    "how many sessions of dtms will I need",
    "can I drive home after my dtms session",
    "where can I get narcan",
    "I stopped drinking three weeks ago",
    "I want to quit smoking",
    "what is the difference between methadone and buprenorphine",
    "how long does withdrawal last",
    "what should I expect at my first tms session",
    "can I change my check-in time",
    "is naltrexone the same as naloxone",
    "how do I use narcan",
    "what are the signs of an overdose",
    "does suboxone show up on a drug test",
    "tell me about campral",
    "how does chantix help you quit smoking",
    "¿Qué es la metadona?",
    "¿Cómo funciona la naltrexona?",
    "¿Duele la estimulación magnética?",
    "what does the h-coil do",
    "when do I need my next vivitrol shot",
    "can I bring someone to my tms appointment",
    "I took my methadone this morning",
    "how many people relapse after detox",
    "I need to pick up my suboxone prescription",
    "can I take a break from the check-ins",
    "can I stop my dose reminders for a week",
    "my doctor says I should start dtms",
    "hello",
    "what is the weather",
]


@pytest.mark.parametrize(("text", "kind", "medications"), POSITIVE)
def test_personal_medication_decision_is_caught_with_its_kind_and_medicines(
    text: str, kind: GuardrailKind, medications: tuple[str, ...]
) -> None:
    """A question asking for a personal medication decision matches with its kind and medicines."""
    assert classify_medication_question(text) == GuardrailMatch(kind, medications)


@pytest.mark.parametrize("text", NEGATIVE)
def test_general_or_educational_question_is_not_caught(text: str) -> None:
    """A general or educational question does not trip the guardrail."""
    assert classify_medication_question(text) is None


def test_table_has_enough_examples_of_each_side() -> None:
    """The example table keeps at least 40 positive and 25 negative questions."""
    assert len(POSITIVE) >= 40
    assert len(NEGATIVE) >= 25
    assert {kind for _, kind, _ in POSITIVE} == {"dose_change", "stop", "start", "mixing"}


def test_misspelled_brand_is_still_mapped_to_its_generic_name() -> None:
    """A misspelt medicine name within the typo limit is mapped through the lexicon."""
    match = classify_medication_question("can I stop taking naltrexon")
    assert match == GuardrailMatch("stop", ("naltrexone",))


def test_custom_lexicon_is_used_for_medication_names() -> None:
    """A lexicon passed in replaces the bundled one for naming medicines."""
    lexicon = Lexicon.from_data({"medications": {"examplumab": ["wonderpill"]}})
    match = classify_medication_question("should I stop my wonderpill", lexicon=lexicon)
    assert match == GuardrailMatch("stop", ("examplumab",))


def test_guardrails_and_library_share_one_lexicon() -> None:
    """The guardrails map names with the same lexicon object the library loads by default."""
    assert bundled_lexicon() is bundled_lexicon()
    assert bundled_lexicon().normalise_medication("Antabuse 250 mg") == "disulfiram"


# How patients talk: the second pass's misses (issue "Clinical content, second pass", part 1).
PATIENT_WORDS: list[tuple[str, GuardrailKind, tuple[str, ...]]] = [
    # "sub", "subs", "strips", "tira" and "bupe" are buprenorphine
    ("can i take an extra sub", "dose_change", ("buprenorphine",)),
    ("can I take 2 subs today", "dose_change", ("buprenorphine",)),
    ("should I cut my strips in half", "dose_change", ("buprenorphine",)),
    ("can i take more bupe", "dose_change", ("buprenorphine",)),
    ("me tomo otra tira?", "dose_change", ("buprenorphine",)),
    # someone else's medicine
    ("can I take my buddy's subs", "not_prescribed", ("buprenorphine",)),
    ("my buddy gave me some of his subs can i take them", "not_prescribed", ("buprenorphine",)),
    ("can i take my wife's xanax", "not_prescribed", ("benzodiazepine",)),
    (
        "can i take my wife's xanax with my methadone",
        "not_prescribed",
        ("benzodiazepine", "methadone"),
    ),
    ("¿puedo tomar las pastillas de mi esposo?", "not_prescribed", ()),
    # over-the-counter sedatives, hydroxyzine and kratom with an opioid medicine
    ("can i take benadryl with my methadone", "mixing", ("methadone",)),
    ("is it ok to take tylenol pm with suboxone", "mixing", ("buprenorphine",)),
    ("tylenol pm and subs ok?", "mixing", ("buprenorphine",)),
    ("can i use kratom with my subs", "mixing", ("buprenorphine",)),
    ("is hydroxyzine ok with suboxone", "mixing", ("buprenorphine",)),
    ("can i take hydroxyzine with my methadone", "mixing", ("methadone",)),
    ("¿puedo tomar benadryl con la metadona?", "mixing", ("methadone",)),
]


# More ways of asking, written for these tests (not taken from the evaluation sets).
PATIENT_WORDS += [
    ("can i redose my subs in the afternoon", "dose_change", ("buprenorphine",)),
    ("can i take tomorrows dose today", "dose_change", ()),
    ("my dr said no more than 16 but can i take 20", "dose_change", ()),
    ("i want to go down on my methadone, can i do it myself", "dose_change", ("methadone",)),
    ("can i snort my subs", "dose_change", ("buprenorphine",)),
    ("¿le bajo a la metadona yo mismo?", "dose_change", ("methadone",)),
    ("¿me puedo tomar la dosis de mañana hoy?", "dose_change", ()),
    ("im thinking about tapering down my subs", "stop", ("buprenorphine",)),
    ("could i try going without my antidepressant for a week", "stop", ("antidepressant",)),
    ("dont want to take my antidepressant anymore", "stop", ("antidepressant",)),
    ("¿me cambio a la inyección mensual?", "start", ()),
    ("can i get the sublocade shot instead of strips", "start", ("buprenorphine",)),
    ("molly on methadone ok?", "mixing", ("methadone",)),
    ("imodium with methadone?", "mixing", ("methadone",)),
    ("claritin with my subs ok?", "mixing", ("buprenorphine",)),
    ("is zzzquil ok with suboxone", "mixing", ("buprenorphine",)),
    ("¿es malo fumar mota con la metadona?", "mixing", ("methadone",)),
    ("is it ok to take a sub i bought off the street", "not_prescribed", ("buprenorphine",)),
    (
        "my buddy wants to trade me his xanax for my subs",
        "not_prescribed",
        (
            "benzodiazepine",
            "buprenorphine",
        ),
    ),
    ("can i take one of my husbands percs", "not_prescribed", ()),
    ("un amigo me quiere dar suboxone, ¿lo tomo?", "not_prescribed", ("buprenorphine",)),
    ("my primo tiene xanax, can i take uno?", "not_prescribed", ("benzodiazepine",)),
]

STILL_EDUCATION: list[str] = [
    "what are fentanyl test strips",
    "can i get high on subs",
    "what happens if i drink on vivitrol",
    "¿qué pasa si tomo alcohol con antabus?",
    "my wife's xanax went missing",
    "el bupropion helps con smoking?",
    "can i take 5 minutes to think",
    "should i let my suboxone dissolve under my tongue",
]


@pytest.mark.parametrize("text", STILL_EDUCATION)
def test_questions_about_how_things_work_stay_with_the_library(text: str) -> None:
    """Slang and the new patterns leave general questions to the library."""
    assert classify_medication_question(text) is None


@pytest.mark.parametrize(("text", "kind", "medications"), PATIENT_WORDS)
def test_patient_words_for_medicines_are_caught(
    text: str, kind: GuardrailKind, medications: tuple[str, ...]
) -> None:
    """Slang, someone else's medicine and over-the-counter sedatives get the prescriber answer."""
    assert classify_medication_question(text) == GuardrailMatch(kind, medications)


ROUTES: list[tuple[str, RouteKind]] = [
    ("how much narcan should i give", "naloxone_steps"),
    ("how many sprays of narcan do i give him", "naloxone_steps"),
    ("so sleepy on my new methadone dose", "warning"),
    ("my suboxone makes me nod off all day since they raised it", "warning"),
    ("where do i spray the narcan", "naloxone_steps"),
    ("¿cuánto narcan le doy?", "naloxone_steps"),
    ("he's turning blue what do i do", "naloxone_steps"),
    ("does narcan work on someone who took methadone, he's not waking up", "naloxone_steps"),
    ("where can i get narcan", "library"),
    ("how do i store narcan", "library"),
    ("¿cuánto dura el efecto de la naloxona?", "library"),
    ("feel drunk after my dose today", "warning"),
    ("is it normal to feel this sleepy on methadone?", "warning"),
    ("mi papá toma metadona y se queda dormido en la mesa", "warning"),
    ("my eyes keep closing after my dose", "warning"),
    ("does methadone make you sleepy", "library"),
    ("why am i so tired on chantix", "library"),
    ("i cant sleep on suboxone", "library"),
    ("what if I miss a dose", "library"),
    ("i forgot my dose yesterday", "library"),
    ("I missed my methadone this morning, should I take it now?", "prescriber"),
    ("can i take hydroxyzine with my methadone", "prescriber"),
    ("how does methadone work", "library"),
]


@pytest.mark.parametrize(("text", "kind"), ROUTES)
def test_each_question_takes_its_route(text: str, kind: RouteKind) -> None:
    """Naloxone for a bystander, warning signs, a general missed dose and decisions part ways."""
    assert route_question(text).kind == kind


def test_a_prescriber_route_carries_its_guardrail_match() -> None:
    """The prescriber route says which decision was asked and about which medicines."""
    route = route_question("can i take hydroxyzine with my methadone")
    assert route.guard == GuardrailMatch("mixing", ("methadone",))
    assert route_question("how much narcan should i give").guard is None
