"""Tests for the crisis-language detector: corpus recall, categories, normalisation, speed."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import logging
import statistics
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import SEVERITY_ORDER, CrisisCategory
from bot.services import crisis_judgement, crisis_rules, crisis_signal, crisis_text, safety
from bot.services.crisis_signal import CrisisSignal, Tier, Who
from bot.services.crisis_text import normalize
from bot.services.safety import detect_crisis

CORPUS_PATH = Path(__file__).resolve().parents[1] / "data" / "crisis_corpus.yaml"
MAX_FALSE_POSITIVE_RATE = 0.10


def _load_corpus() -> dict[str, list[dict[str, Any]]]:
    with CORPUS_PATH.open(encoding="utf-8") as handle:
        corpus: dict[str, list[dict[str, Any]]] = yaml.safe_load(handle)
    return corpus


CORPUS = _load_corpus()
POSITIVES: list[dict[str, Any]] = CORPUS["positives"]
NEGATIVES: list[dict[str, Any]] = CORPUS["negatives"]
QUIET_NEGATIVES: list[str] = [entry["text"] for entry in NEGATIVES if not entry["alarm"]]
CLEAR_POSITIVES: list[str] = [
    entry["text"] for entry in POSITIVES if isinstance(entry["category"], str)
]


def _accepted_categories(entry: dict[str, Any]) -> set[CrisisCategory]:
    raw = entry["category"]
    names = [raw] if isinstance(raw, str) else list(raw)
    return {CrisisCategory(name) for name in names}


def _case_id(entry: dict[str, Any]) -> str:
    return str(entry["text"])[:40]


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_holds_enough_messages_in_both_languages() -> None:
    """The corpus has at least 150 positives and 80 negatives, with English and Spanish."""
    assert len(POSITIVES) >= 150
    assert len(NEGATIVES) >= 80
    locales = {entry.get("locale") for entry in POSITIVES}
    assert {"en", "es"} <= locales
    assert {entry["category"] for entry in POSITIVES if isinstance(entry["category"], str)} == {
        category.value for category in CrisisCategory
    }


def test_every_accepted_false_positive_says_why() -> None:
    """A negative that is allowed to alarm carries the reason it was accepted."""
    for entry in NEGATIVES:
        if entry["alarm"]:
            assert entry.get("why"), entry["text"]


@pytest.mark.parametrize("entry", POSITIVES, ids=_case_id)
def test_every_positive_in_the_corpus_is_detected(entry: dict[str, Any]) -> None:
    """Each crisis message in the corpus raises a signal (recall is 100% on the corpus)."""
    assert detect_crisis(entry["text"]) is not None


@pytest.mark.parametrize("entry", POSITIVES, ids=_case_id)
def test_positive_reports_its_expected_category(entry: dict[str, Any]) -> None:
    """A crisis message reports the category written next to it in the corpus."""
    signal = detect_crisis(entry["text"])
    assert signal is not None
    assert signal.category in _accepted_categories(entry)


@pytest.mark.parametrize("entry", [entry for entry in POSITIVES if "locale" in entry], ids=_case_id)
def test_single_language_positive_reports_the_locale_of_its_pattern(
    entry: dict[str, Any],
) -> None:
    """A message in one language is matched by a pattern of that language."""
    signal = detect_crisis(entry["text"])
    assert signal is not None
    assert signal.locale == entry["locale"]


@pytest.mark.parametrize("entry", NEGATIVES, ids=_case_id)
def test_negative_behaves_as_documented(entry: dict[str, Any]) -> None:
    """Everyday messages stay quiet, and each accepted false alarm still alarms."""
    assert (detect_crisis(entry["text"]) is not None) is entry["alarm"]


def test_false_positive_rate_on_negatives_stays_under_ten_percent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under 10% of the everyday messages in the corpus raise a signal."""
    alarms = sum(detect_crisis(entry["text"]) is not None for entry in NEGATIVES)
    rate = alarms / len(NEGATIVES)
    with capsys.disabled():
        print(f"\ncrisis detector false-positive rate: {alarms}/{len(NEGATIVES)} = {rate:.1%}")
    assert rate < MAX_FALSE_POSITIVE_RATE


def test_detection_time_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """The time per message is measured and printed (not asserted: machines differ)."""
    texts = [entry["text"] for entry in POSITIVES + NEGATIVES]
    for text in texts:  # warm up
        detect_crisis(text)
    samples: list[float] = []
    for text in texts * 5:
        start = time.perf_counter()
        detect_crisis(text)
        samples.append(time.perf_counter() - start)
    longest = " ".join(QUIET_NEGATIVES * 10)[:4096]
    start = time.perf_counter()
    detect_crisis(longest)
    longest_seconds = time.perf_counter() - start
    samples.sort()
    with capsys.disabled():
        print(
            f"\ncrisis detector time per corpus message: "
            f"mean {statistics.fmean(samples) * 1e6:.0f} us, "
            f"p99 {samples[int(len(samples) * 0.99)] * 1e6:.0f} us, "
            f"max {samples[-1] * 1e6:.0f} us; "
            f"a {len(longest)}-character message: {longest_seconds * 1e3:.2f} ms"
        )


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Suicidárme", "suicidarme"),
        ("SUICIDARME", "suicidarme"),
        ("don't", "dont"),
        ("don\u2019t", "dont"),
        ("dont", "dont"),
        ("diiiie", "die"),
        ("I  want...   to!!die", "i want to die"),
        ("k1ll mys3lf", "kill myself"),
        ("ki\u200bll", "kill"),
        ("KMS", "kill myself"),
        ("kys", "kill yourself"),
        ("unalive", "kill myself"),
        ("unalive him", "kill him"),
        ("sewerslide", "suicide"),
        ("sewer slide", "suicide"),
        ("self-delete", "suicide"),
        ("he OD'd", "he overdosed"),
        ("he od\u2019d", "he overdosed"),
        ("I can not", "i cant"),
        ("wanna", "want to"),
        ("kiero morir", "quiero morir"),
        ("#IWantToDie", "i want to die"),
        ("\uff4b\uff49\uff4c\uff4c", "kill"),  # fullwidth letters
    ],
)
def test_normalisation_folds_what_people_type(typed: str, normalised: str) -> None:
    """Accents, quotes, case, letter runs, look-alike digits and chat forms fold to plain words."""
    assert normalize(typed) == normalised


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("took 2 m30s", "took 2 m30s"),
        ("found an m30 in his jacket", "found an m30 in his jacket"),
        ("i want to d13", "i want to die"),
    ],
)
def test_the_pill_code_m30_keeps_its_digits(typed: str, normalised: str) -> None:
    """The pill code "m30" is not a look-alike word: "m30s" folded to "meos" would hide a
    counterfeit fentanyl pill from the drug words."""
    assert normalize(typed) == normalised


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("my 3yo got into my bag", "my 3 year old got into my bag"),
        ("the 2 y/o was in my purse", "the 2 year old was in my purse"),
        ("our 4yr old", "our 4 year old"),
        ("our 18mo was in the diaper bag", "our 18 month old was in the diaper bag"),
        ("2 yrs clean today", "2 yrs clean today"),
        ("on my 4th shot", "on my 4th shot"),
        ("my 1st day back", "my 1st day back"),
    ],
)
def test_a_small_childs_age_and_an_ordinal_keep_their_digits(typed: str, normalised: str) -> None:
    """ "3yo" folded as look-alike digits would be "eyo", which no child word reads: a child's
    age keeps its digits and reads as "3 year old"; an ordinal ("4th", not "ath") keeps its
    digits; a time clean in years is left alone."""
    assert normalize(typed) == normalised


@pytest.mark.parametrize(
    "text",
    [
        "I want to end it all",
        "gonna off myself",
        "I want to go to sleep and not wake up",
        "ready for a dirt nap",
        "looking up final exit",
        "i want to unalive",
        "sewerslide",
        "kms",
        "kys",
    ],
)
def test_euphemisms_and_internet_forms_read_as_suicide(text: str) -> None:
    """Euphemisms and internet forms of suicide are caught like the plain words."""
    signal = detect_crisis(text)
    assert signal is not None
    assert signal.category is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "I've been on a diet",
        "I studied all night",
        "new skill unlocked",
        "my rent is overdue",
        "cutting board on sale",
        "killing time before my appointment",
        "I feel odd",
        "good food",
        "the methodist church hosts our meeting",
        "I'm dying to try it",
        "I'm dying for a cigarette",
    ],
)
def test_look_alike_words_and_idioms_stay_quiet(text: str) -> None:
    """Patterns match whole words, so words that contain a crisis word do not alarm."""
    assert detect_crisis(text) is None


def test_negated_statements_still_match() -> None:
    """Negation is ignored on purpose: denials of crisis still raise a signal."""
    assert detect_crisis("I don't want to die but I keep thinking about it") is not None
    assert detect_crisis("I'm not suicidal") is not None


def test_an_exception_for_one_phrase_does_not_reach_into_the_next_sentence() -> None:
    """'wake up. So tired' is not read as 'wake up so early'."""
    assert detect_crisis("I want to sleep and never wake up. So tired of everything") is not None
    assert detect_crisis("I want to sleep and never wake up\nso tired") is not None


# --- severity, locale and the shape of the result ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I want to die and I took a whole bottle", CrisisCategory.OVERDOSE),
        ("he's not breathing and I want to die", CrisisCategory.MEDICAL_EMERGENCY),
        ("I want to kill him and then kill myself", CrisisCategory.SUICIDE),
        ("he's hitting me so I cut myself", CrisisCategory.ABUSE_OR_DANGER),
        ("i want to hurt someone, he's hitting me", CrisisCategory.HARM_TO_OTHERS),
    ],
)
def test_most_severe_category_wins(text: str, category: CrisisCategory) -> None:
    """When several categories match, the one earliest in the severity order is reported."""
    signal = detect_crisis(text)
    assert signal is not None
    assert signal.category is category


def test_severity_order_ranks_every_category_once() -> None:
    """The severity order names each category exactly once."""
    assert sorted(SEVERITY_ORDER) == sorted(CrisisCategory)
    assert len(SEVERITY_ORDER) == len(CrisisCategory)


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("I want to die", "en"),
        ("quiero morir", "es"),
        ("hoy fue un buen día pero he's not breathing", "en"),
        ("all good today, pero mi amigo no respira", "es"),
    ],
)
def test_both_locales_are_checked_in_every_message(text: str, locale: str) -> None:
    """English and Spanish patterns both run on every message, and the locale names the match."""
    signal = detect_crisis(text)
    assert signal is not None
    assert signal.locale == locale


def test_signal_carries_no_text_and_cannot_be_changed() -> None:
    """The signal holds category, tier, who and rule names, never words from the message."""
    signal = detect_crisis("i want to die")
    assert signal is not None
    assert (signal.category, signal.locale, signal.tier, signal.who) == (
        CrisisCategory.SUICIDE,
        "en",
        Tier.CLEAR,
        Who.SELF,
    )
    assert {field.name for field in dataclasses.fields(CrisisSignal)} == {
        "category",
        "locale",
        "tier",
        "who",
        "reasons",
        "layer",
        "score",
    }
    assert signal.layer in {"rules", "model", "semantic"}
    assert signal.score is None or isinstance(signal.score, float)
    assert all(":" in reason for reason in signal.reasons)
    assert not any("die" in reason for reason in signal.reasons)
    with pytest.raises(dataclasses.FrozenInstanceError):
        signal.locale = "es"  # type: ignore[misc]


def test_category_values_name_the_alert_texts() -> None:
    """Category values are the stable names the care-team alert templates use."""
    assert [category.value for category in CrisisCategory] == [
        "suicide",
        "self_harm",
        "overdose",
        "medical_emergency",
        "harm_to_others",
        "abuse_or_danger",
        "relapse_danger",
    ]


@pytest.mark.parametrize("text", ["", " ", "\n\t", "...", "👍"])
def test_empty_and_blank_messages_are_quiet(text: str) -> None:
    """Blank text, punctuation and a lone emoji raise no signal."""
    assert detect_crisis(text) is None


def test_detection_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Detection writes no log record, so message text can never reach the logs."""
    with caplog.at_level(logging.DEBUG):
        detect_crisis("i want to kill myself")
        detect_crisis("good morning")
    assert caplog.records == []


@pytest.mark.parametrize(
    "module", [safety, crisis_judgement, crisis_rules, crisis_signal, crisis_text]
)
def test_detector_modules_do_not_import_telegram(module: ModuleType) -> None:
    """The detector is a service and imports nothing from telegram."""
    tree = ast.parse(inspect.getsource(module))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not any(name.split(".")[0] == "telegram" for name in imported)


# --- properties -------------------------------------------------------------------------------

# No question mark: a question about a crisis topic is, by design, answered and not paged.
SEPARATORS = [". ", "\n", "! ", ", ", "; ", ".\n\n"]
neutral_sentences = st.lists(st.sampled_from(QUIET_NEGATIVES), min_size=1, max_size=3).map(" ".join)
neutral_noise = st.text(alphabet="0123456789 ,.!?-:;()\n", max_size=30)
neutral_text = st.one_of(neutral_sentences, neutral_noise)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.text())
def test_detection_never_raises_on_any_unicode_text(text: str) -> None:
    """Any unicode string gets an answer, a signal or None, and never an exception."""
    result = detect_crisis(text)
    assert result is None or isinstance(result, CrisisSignal)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    positive=st.sampled_from(CLEAR_POSITIVES),
    before=neutral_text,
    after=neutral_text,
    joints=st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(SEPARATORS)),
)
def test_neutral_text_around_a_positive_keeps_it_detected(
    positive: str, before: str, after: str, joints: tuple[str, str]
) -> None:
    """Everyday sentences or noise before and after a crisis message never hide it."""
    assert detect_crisis(before + joints[0] + positive + joints[1] + after) is not None


# --- meaning: tiers, who, questions, memories -------------------------------------------------


def test_no_rule_matches_plain_small_talk() -> None:
    """Every phrase, slot and meaning rule stays quiet on small talk (no empty alternative)."""
    patterns = [pattern for _, _, pattern in crisis_rules._PHRASES]
    patterns += [pattern for _, pattern in crisis_rules._POSSIBLE]
    patterns += [pattern for _, _, _, pattern in crisis_rules._MEANING]
    for pattern in patterns:
        assert pattern.search("ok thanks see you") is None, pattern.pattern[:80]
    crisis_slots = {"unresponsive", "sedated", "overdose", "lost_tolerance", "wont_wake"}
    for name in crisis_slots:
        assert crisis_rules._SLOTS[name].search("ok thanks see you") is None, name


@pytest.mark.parametrize(
    ("text", "category", "tier", "who"),
    [
        ("my buddy is blue and wont wake up", "overdose", "clear", "other"),
        ("just shot up alone after detox and cant keep my eyes open", "overdose", "clear", "self"),
        ("i cant do this anymore", "suicide", "possible", "self"),
        ("esta es mi despedida", "suicide", "possible", "self"),
        ("soy una carga para todos", "suicide", "possible", "self"),
        (
            "fresh out of jail, about to shoot a full bag by myself",
            "relapse_danger",
            "clear",
            "self",
        ),
        ("mi hermana dice que se quiere matar", "suicide", "clear", "other"),
        ("he threw me against the wall", "abuse_or_danger", "clear", "self"),
    ],
)
def test_unseen_wordings_read_by_meaning(text: str, category: str, tier: str, who: str) -> None:
    """Messages that no phrase spells out are read from who, what and when."""
    signal = detect_crisis(text)
    assert signal is not None
    assert (signal.category.value, signal.tier.value, signal.who.value) == (category, tier, who)


@pytest.mark.parametrize(
    "text",
    [
        "what does an overdose look like",
        "can i mix xanax and methadone",
        "can narcan reverse fentanyl",
        "what are warning signs that someone is suicidal",
    ],
)
def test_questions_about_crisis_topics_are_questions_not_signals(text: str) -> None:
    """An educational question raises no signal and is marked as a question."""
    assessment = safety.assess(text)
    assert assessment.signal is None
    assert assessment.question
    assert assessment.explain().startswith("question")


@pytest.mark.parametrize(
    "text",
    [
        "I took xanax with my methadone and I feel weird",
        "how many pills would it take to die",
        "whats the lethal dose of methadone",
    ],
)
def test_reports_and_questions_with_intent_stay_crises(text: str) -> None:
    """A first-person report, or a question that carries intent, is never only a question."""
    assert detect_crisis(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "2 years ago I overdosed and my sister saved me with narcan. 18 months clean now",
        "my boss is gonna kill me if I'm late again",
        "that movie was a total overdose of cheese",
        "I used to cut but I haven't in 3 years",
    ],
)
def test_memories_idioms_and_films_stay_quiet(text: str) -> None:
    """A memory, an idiom or a film is not a crisis happening now."""
    assert detect_crisis(text) is None


def test_a_crisis_beside_a_memory_or_a_question_is_still_heard() -> None:
    """A crisis in one sentence is not explained away by a memory or a question in another."""
    assert detect_crisis("I want to die. my dad died of an overdose two years ago") is not None
    assert detect_crisis("esto es un adios. does suboxone interact with ibuprofen?") is not None


def test_explain_names_the_rules_that_fired() -> None:
    """explain() says the tier, category, who, and the rules and slots behind them."""
    line = safety.assess("my buddy is blue and wont wake up").explain()
    assert line.startswith("clear overdose (other): ")
    assert "rule:unresponsive" in line
    assert "slot:cyanosis" in line


@pytest.mark.parametrize(
    "text",
    [
        "what time is my appointment?",
        "can I reschedule my dTMS to thursday",
        "I'm going to pick up my suboxone prescription tonight",
        "voy a comprar comida esta noche",
        "thanks for everything you do, this app helps",
        "gracias por todo, nos vemos mañana",
    ],
)
def test_everyday_messages_are_neither_crises_nor_crisis_questions(text: str) -> None:
    """Ordinary questions and plans raise no signal and get no emergency steps."""
    assessment = safety.assess(text)
    assert assessment.signal is None
    assert not assessment.question


PROBES = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "crisis_probes.yaml").read_text("utf-8")
)


@pytest.mark.parametrize("text", PROBES["crisis"], ids=lambda text: str(text)[:40])
def test_probe_crisis_messages_raise_a_signal(text: str) -> None:
    """Crisis wordings written to widen the rules (slang, Spanish, Spanglish) stay caught."""
    assert detect_crisis(text) is not None


@pytest.mark.parametrize("text", PROBES["quiet"], ids=lambda text: str(text)[:40])
def test_probe_everyday_messages_stay_quiet(text: str) -> None:
    """Everyday recovery talk written beside those probes stays quiet."""
    assert detect_crisis(text) is None
