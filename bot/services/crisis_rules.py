"""The crisis detector's rules: phrase lists, meaning slots and frames, read on every message.

This module owns the rules' reading of one message (:func:`assess_rules`): which phrases,
frames and meaning rules fire, which of them a question, a memory, a film or an idiom explains
away, and which reading is the strongest. The patterns are kept as data in content/safety/ and
compiled once at import.
"""

from __future__ import annotations

import re
from typing import Final

from bot.models import SEVERITY_ORDER, CrisisCategory
from bot.services import crisis_asking as asking
from bot.services import crisis_explained as explained
from bot.services import crisis_frames
from bot.services.crisis_signal import Assessment, CrisisSignal, Tier, Who
from bot.services.crisis_text import LEXICON, forms_of

_LOCALES: Final[tuple[str, ...]] = ("en", "es")


# ---------------------------------------------------------------------------------------------
# Patterns (written against normalised text: lowercase ASCII words separated by single spaces)
# ---------------------------------------------------------------------------------------------

# Filler words people put inside a phrase ("i just really want to die").
_PIECES: Final[dict[str, str]] = crisis_frames.expand_pieces(LEXICON["pieces"])
_ADV: Final = _PIECES["adv"]
_PEOPLE: Final = _PIECES["people"]
# "wake up" as a wish not to live, but not "wake up early" or "wake up late".
_WAKE_UP: Final = _PIECES["wake_up"]
# Third parties whose collapse is someone else's medical emergency.
_SOMEONE_ELSE: Final = _PIECES["someone"]
_AGGRESSOR: Final = _PIECES["aggressor"]
_DRUGS: Final = _PIECES["drugs"]
_SEDATIVES: Final = _PIECES["sedatives"]
_SEDANTES: Final = _PIECES["sedantes"]
# "morirse de risa", "me mató de hambre": Spanish idioms, not intent.
_NOT_AN_IDIOM: Final = _PIECES["not_an_idiom"]
_PERSONAS: Final = _PIECES["personas"]
_HARM_INTENT: Final = _PIECES["harm_intent"]


def _compile(alternatives: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.ASCII)


# In severity order, English before Spanish: the first pattern that matches decides.
_PHRASES: Final[tuple[tuple[CrisisCategory, str, re.Pattern[str]], ...]] = tuple(
    (
        category,
        locale,
        _compile(crisis_frames.expand_all(LEXICON["clear"][category][locale], _PIECES)),
    )
    for category in SEVERITY_ORDER
    if category in LEXICON["clear"]
    for locale in _LOCALES
)
_POSSIBLE: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (locale, _compile(crisis_frames.expand_all(LEXICON["possible"][locale], _PIECES)))
    for locale in _LOCALES
)


# ---------------------------------------------------------------------------------------------
# Meaning slots: who is at risk, what is happening, how soon, and whether it is a question
# ---------------------------------------------------------------------------------------------
#
# The phrase patterns above recognise ways of saying a crisis. The slots below recognise its
# parts, so that a sentence nobody wrote down before still reads as a crisis when its parts do:
# "my buddy is blue and wont wake up" is another person + a body that does not respond;
# "just shot up alone after detox" is use + now + alone + lost tolerance. Each slot is a small
# lexicon in English and Spanish; the rules in :func:`_slot_rules` compose them.

_SLOT_DATA: Final = crisis_frames.load_slots(crisis_frames.BUNDLED_SLOTS, _PIECES)
_ALL_PIECES: Final[dict[str, str]] = _SLOT_DATA.pieces
_INTENT: Final = _ALL_PIECES["intent"]
_SLOTS: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(source, re.ASCII) for name, source in _SLOT_DATA.slots.items()
}
_MEANING: Final[tuple[tuple[str, CrisisCategory, Tier, re.Pattern[str]], ...]] = tuple(
    (rule.name, rule.category, Tier(rule.tier), re.compile(rule.pattern, re.ASCII))
    for rule in _SLOT_DATA.rules
)
# Danger markers that turn an intent to use into relapse danger (lost tolerance is a slot).
_USE_DANGER: Final = re.compile(_SLOT_DATA.markers["use_danger"], re.ASCII)
_USE_INTENT: Final = re.compile(_SLOT_DATA.markers["use_intent"], re.ASCII)


# The colour of a thing ("the bruise from my shot is purple") is read out of the form before the
# slots that look for a body turning blue or grey.
_THING_COLOUR: Final = re.compile(_ALL_PIECES["thing_colour"], re.ASCII)
_COLOUR_SLOTS: Final = frozenset({"unresponsive", "cyanosis"})


def slots_of(form: str) -> frozenset[str]:
    bare = _THING_COLOUR.sub(" ", form)
    return frozenset(
        name
        for name, pattern in _SLOTS.items()
        if pattern.search(bare if name in _COLOUR_SLOTS else form)
    )


def guess_locale(form: str) -> str:
    spanish = len(
        re.findall(
            r"\b(?:el|la|los|las|que|y|de|mi|no|es|esta|estoy|se|un|una|por|para|con|ya|muy"
            r"|pero|todo|todos|soy|tengo)\b",
            form,
        )
    )
    english = len(
        re.findall(
            r"\b(?:the|and|i|im|is|my|to|a|it|of|you|he|she|not|with|for|this|just|so|but"
            r"|me|he|was|cant|dont)\b",
            form,
        )
    )
    return "es" if spanish > english else "en"


def _slot_rules(form: str, slots: frozenset[str]) -> list[tuple[CrisisCategory, Tier, Who, str]]:
    """Compose meaning slots and rules into crisis readings: (category, tier, who, reason)."""
    found: list[tuple[CrisisCategory, Tier, Who, str]] = []
    who = who_of(slots)
    drugs = bool(slots & {"drug", "opioid", "depressant", "use", "overdose", "naloxone"})
    if "unresponsive" in slots or ("wont_wake" in slots and (drugs or "other" in slots)):
        # A body that does not wake or breathe: after drugs it is an overdose (naloxone first),
        # otherwise another medical emergency; the answer starts with the emergency number.
        # Blue or grey lips and skin are the look of an opioid overdose.
        # One that does not wake after a night out is read as an overdose too: something was
        # most likely taken.
        overdose = drugs or "cyanosis" in slots or "partying" in slots
        category = CrisisCategory.OVERDOSE if overdose else CrisisCategory.MEDICAL_EMERGENCY
        found.append((category, Tier.CLEAR, who, "unresponsive"))
    if slots & {"overdose", "overdosing_now"}:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "overdose"))
    if "sedated" in slots and drugs:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "use+sedated"))
    elif "sedated_mild" in slots and (
        slots & {"use", "opioid", "depressant", "overdose"} or {"drug", "alone"} <= slots
    ):
        # A drug from a seller ("plug swore it was the usual") and a sign of it, alone, is the
        # check too.
        found.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "use+drowsy"))
    out_partying = "partying" in slots and who is Who.OTHER and "sober" not in form
    if ("drowsy_now" in slots and (drugs or "medicine" in slots or out_partying)) or (
        "unsure_dose" in slots and slots & {"drowsy_now", "sedated_mild", "sedated"}
    ):
        # A medicine, a drug or someone else's night out and a person more sedated than a dose
        # makes them ("seems more confused than usual since they changed her meds, shes sleeping
        # a lot", "roommate's been asleep 14 hours since the party, snoring real loud"), or not
        # knowing whether too much was taken beside any sign of it: the "Are you safe?" check.
        found.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "medicine+drowsy"))
    found.extend(_doubt_readings(form, slots, who, drugs=drugs))
    report = bool(slots & {"report_self", "report_other"})
    if {"opioid", "depressant"} <= slots and report:
        tier = Tier.CLEAR if "sedated" in slots else Tier.POSSIBLE
        found.append((CrisisCategory.OVERDOSE, tier, who, "mixed depressants"))
    intent_to_use = _USE_INTENT.search(form) is not None or "future_use" in slots
    if intent_to_use or "lost_tolerance" in slots:
        danger = len({m.group() for m in _USE_DANGER.finditer(form)})
        danger += "lost_tolerance" in slots
        danger += {"opioid", "depressant"} <= slots
        if intent_to_use and danger >= 2:
            found.append((CrisisCategory.RELAPSE_DANGER, Tier.CLEAR, who, "use+danger"))
        elif (intent_to_use and danger == 1) or ("lost_tolerance" in slots and "use" in slots):
            found.append((CrisisCategory.RELAPSE_DANGER, Tier.POSSIBLE, who, "use+risk"))
    for name, category, tier, pattern in _MEANING:
        if pattern.search(form):
            found.append((category, tier, who, name))
    return found


def _doubt_readings(
    form: str, slots: frozenset[str], who: Who, *, drugs: bool
) -> list[tuple[CrisisCategory, Tier, Who, str]]:
    """The "Are you safe?" check for what the writer does not know or asks others to watch."""
    readings: list[tuple[CrisisCategory, Tier, Who, str]] = []
    if "check_on_me" in slots:
        # "if i dont text back can someone check on me": after a drug it is an overdose, else a
        # wish to be found; either way the check.
        overdose = drugs or "did something" in form
        category = CrisisCategory.OVERDOSE if overdose else CrisisCategory.SUICIDE
        readings.append((category, Tier.POSSIBLE, who, "check_on_me"))
    if "asked_done" in slots and drugs:
        # "can you die from taking suboxone twice, bc i kinda just did": asked about a dose the
        # writer has already taken.
        readings.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "asked_done"))
    if "hard_to_wake" in slots and (who is Who.OTHER or drugs):
        # "grandpa is hard to wake from his nap, he mumbles and goes right back out": the
        # overdose steps (breathing, the emergency number, naloxone) are the right first ones
        # even with no drug named.
        readings.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "hard_to_wake"))
    asked_for_someone = {"naloxone", "question", "report_other", "use"} <= slots
    if asked_for_someone and slots & {"opioid", "depressant"} and not _USED_TO.search(form):
        # "he snorted a bunch of blues, does narcan still work on him": the rescue asked about
        # for someone who has just taken an opioid or a sedative is the overdose check.
        readings.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "naloxone_asked"))
    if slots & {"unsure_amount", "double_dose"}:
        # Not knowing how much or how many was taken, or taking a dose again after not knowing
        # whether it was taken, is the check even with no sign yet.
        readings.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "unsure_amount"))
    return readings


_USED_TO: Final = re.compile(r"\bused to\b", re.ASCII)


def who_of(slots: frozenset[str]) -> Who:
    if "other" in slots and ("report_other" in slots or "report_self" not in slots):
        return Who.OTHER
    return Who.SELF


def _is_question(text: str, form: str, slots: frozenset[str]) -> bool:
    """Return True for a question about a crisis topic that reports no crisis happening now."""
    # A question mark alone makes a question only of words that say nothing of the writer:
    # "i think it was laced with fent?" is a report with a worried tone.
    marked = asking.QUESTION_MARK.search(text) is not None
    asked = (
        "question" in slots
        or "help_frame" in slots
        or (marked and "first_person" not in slots)
        # "si llamo al 911 por una sobredosis, me pueden arrestar?": a conditional asked about
        # the writer, with nothing reported, is a question too.
        or (marked and asking.hypothetical(form) and not slots & _REPORTS)
        # "if someone is on suboxone and takes fent can they still od": a supposition about
        # someone, asked, with or without its question mark.
        or (asking.hypothetical(form) and asking.ASKED_ABOUT_SOMEONE.search(form) is not None)
    )
    if not asked or asking.reveals_intent(form):
        return False
    report = bool(slots & _REPORTS)
    # "how can you tell someone nodding from someone overdosing" asks in general.
    general_ask = asking.GENERAL_ASK.search(form) is not None and "report_other" not in slots
    if slots & {"unresponsive", "sedated", "overdosing_now"} and (
        report or not (asking.hypothetical(form) or general_ask)
    ):
        return False
    if "sedated_mild" in slots and report:
        return False
    if (
        {"alone", "first_person"} <= slots
        and slots & _SEDATION
        and slots & _DRUG_SLOTS
        and not general_ask
    ):
        # "the guy said it was dope but it feels way heavier, is that bad? im by myself": a
        # writer alone with a drug and a sign of it asks out of fear, not for an article.
        return False
    # "is that normal?" after a sign told of someone now is a worry, not a question; "is it
    # normal to feel sleepy on methadone?" asks about a medicine in general.
    if slots & asking.SEDATION_NOW and not asking.hypothetical(form) and not general_ask:
        return False
    return not (report and slots & {"now", "overdose", "use"} and not asking.hypothetical(form))


_SEDATION: Final = frozenset({"sedated_mild", "sedated", "drowsy_now"})
_DRUG_SLOTS: Final = frozenset({"drug", "opioid", "depressant", "use"})


def _general_question(slots: frozenset[str]) -> bool:
    """A question about suicide, self-harm or violence in general, not about the writer now."""
    return "help_frame" in slots or "first_person" not in slots


def _told_outside_the_question(
    forms: tuple[str, ...],
    *,
    after_a_memory: bool = False,
    screened: bool = False,
    joked: bool = False,
) -> CrisisSignal | None:
    """Return the crisis told in one sentence of several, each read on its own ("esto es un
    adios. does suboxone interact with ibuprofen?"); None when there is none.

    ``after_a_memory``: the whole message was read as a memory, a film or an idiom. A sentence
    of it that names an overdose, a symptom or a relapse with nothing told as now ("conte mi
    historia en el grupo, lo de la sobredosis en el carro") is part of that memory; one that
    tells something now ("tonight i took too many"), and any wish to die or threat, is not.

    ``screened``: the message tells of a screening question answered no ("me pregunto si
    pensaba en hacerme dano, y le dije que no"); the sentence that reports the question is the
    counselor's words, not the writer's.

    ``joked``: the message ties a threat to a trivial cause and marks it as a joke ("el gato me
    rompio el florero. lo mato jaja"); the sentence with the threat and the laughter is the joke.
    """
    if len(forms) < 2:  # one sentence: the question is the whole message
        return None
    sentences = [part.strip() for part in forms[-1].split(" . ") if part.strip()]
    if len(sentences) < 2:
        return None
    # A conditional clause ("if someone overdoses, ...") belongs to its question.
    signals = [
        (sentence, assess_rules(sentence)[0].signal)
        for sentence in sentences
        if not asking.hypothetical(sentence)
    ]
    # What the writer read or heard, or what happens to them now and then, is the background of
    # the question about an overdose or a symptom ("lei que la sobredosis puede regresar", "i
    # get chest tightness sometimes"), not a report; a wish to die is never background.
    found = [
        signal
        for sentence, signal in signals
        if signal is not None
        and not (signal.category in _EDUCATIONAL_CATEGORIES and asking.BACKGROUND.search(sentence))
        and not (
            after_a_memory
            and signal.category in _EDUCATIONAL_CATEGORIES
            and not slots_of(sentence) & asking.TOLD_NOW
        )
        and not (
            screened
            and signal.category in explained.SCREENED_CATEGORIES
            and asking.REPORTED_ASK.search(sentence) is not None
        )
        and not (
            joked
            and signal.category is CrisisCategory.HARM_TO_OTHERS
            and slots_of(sentence) & explained.JOKES
        )
    ]
    if not found:
        return None
    rank = {category: index for index, category in enumerate(SEVERITY_ORDER)}
    return min(found, key=lambda sig: (sig.tier is not Tier.CLEAR, rank[sig.category]))


def _reason(reading: Reading) -> str:
    return reading[4].split(":", 1)[1]


def _present(reading: Reading) -> bool:
    """Return whether a reading tells of something happening now (a rule or a frame)."""
    return _reason(reading) in explained.PRESENT_RULES or reading[4] in _PRESENT_FRAMES


Reading = tuple[CrisisCategory, Tier, Who, str, str]  # category, tier, who, locale, reason

# Frames kept as data (content/safety/crisis_frames.yaml), read after the phrase lists.
_FRAMES: Final = crisis_frames.load_frames(
    crisis_frames.BUNDLED_FRAMES,
    {"people": _PEOPLE, "personas": _PERSONAS, "someone": _SOMEONE_ELSE, "adv": _ADV},
)
_PRESENT_FRAMES: Final = frozenset(frame.reason for frame in _FRAMES if frame.present)


def _readings(forms: tuple[str, ...], slots: frozenset[str]) -> list[Reading]:
    """Return every crisis reading of the phrase lists and the meaning rules."""
    readings: list[Reading] = []
    who = who_of(slots)
    for category, locale, pattern in _PHRASES:
        if any(pattern.search(form) for form in forms):
            readings.append((category, Tier.CLEAR, who, locale, f"phrase:{category}:{locale}"))
    for locale, pattern in _POSSIBLE:
        if any(pattern.search(form) for form in forms):
            readings.append(
                (CrisisCategory.SUICIDE, Tier.POSSIBLE, who, locale, f"despair:{locale}")
            )
    for frame in _FRAMES:
        if any(frame.pattern.search(form) for form in forms):
            tier = Tier.CLEAR if frame.tier == "clear" else Tier.POSSIBLE
            readings.append((frame.category, tier, who, frame.locale, frame.reason))
    locale = guess_locale(forms[0])
    for category, tier, reading_who, reason in _slot_rules(forms[0], slots):
        readings.append((category, tier, reading_who, locale, f"rule:{reason}"))
    return readings


def _kept_in_a_question(readings: list[Reading], slots: frozenset[str]) -> list[Reading]:
    """Return the readings a question does not explain: intent, or a report happening now.

    A question about overdose, mixing or naloxone is answered, not paged; so is a question
    about suicide or violence in general. A question that carries intent ("how many would it
    take to die") is never read as a question at all.
    """
    general = _general_question(slots)
    return [
        r
        for r in readings
        if (r[0] not in _EDUCATIONAL_CATEGORIES and not general)
        or (
            _present(r)
            and "help_frame" not in slots
            and (r[0] not in _EDUCATIONAL_CATEGORIES or slots & _REPORTS)
        )
    ]


def _strongest(readings: list[Reading], slots: frozenset[str], form: str) -> CrisisSignal:
    """Return the signal of the clearest, then most severe, reading, with every reason."""
    rank = {category: index for index, category in enumerate(SEVERITY_ORDER)}
    readings = sorted(readings, key=lambda r: (r[1] is not Tier.CLEAR, rank[r[0]]))
    category, tier, who, locale, _ = readings[0]
    if category is CrisisCategory.ABUSE_OR_DANGER and WRITER_AS_OBJECT.search(form):
        who = Who.SELF  # "he threw me": the writer is the one in danger
    reasons = tuple(dict.fromkeys(r[4] for r in readings)) + slot_names(slots)
    return CrisisSignal(category=category, locale=locale, tier=tier, who=who, reasons=reasons)


def assess_rules(text: str) -> tuple[Assessment, str | None]:
    """Read one message with the rules alone.

    Returns the assessment and, when the rules saw crisis words but read them as something
    else, why: "question" (asked about, not reported) or "explained" (a memory, a film, an
    idiom). The model needs a very high score to overrule either reading.
    """
    forms = forms_of(text)
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= slots_of(form)
    readings = _readings(forms, slots)
    set_aside = [
        r for r in readings if explained.explained_away(r[0], r[1], slots, present=_present(r))
    ]
    readings = [r for r in readings if r not in set_aside]
    if set_aside and not readings:
        # A memory in one sentence does not explain away a crisis told in another.
        told = _told_outside_the_question(
            forms,
            after_a_memory=True,
            screened="screened_no" in slots,
            joked=explained.joked(slots),
        )
        return Assessment(signal=told), None if told is not None else "explained"
    if _is_question(text, forms[0], slots):
        # Only a question on a crisis topic is marked as one (it gets the emergency steps on
        # top); "what time is my appointment?" is an ordinary question.
        topic = bool(readings) or bool(slots & _CRISIS_TOPICS) or {"opioid", "depressant"} <= slots
        readings = _kept_in_a_question(readings, slots)
        if not readings:
            told = _told_outside_the_question(forms)
            if told is None:
                question = Assessment(signal=None, question=topic, reasons=slot_names(slots))
                return question, "question"
            return Assessment(signal=told), None
    if not readings:
        # Talk of a dose that does not hold or is to be tapered or split is a question for the
        # prescriber: the models need their overrule score to read a crisis into it, unless
        # use, an overdose, sedation or another person ("they cut my dose and somebody's gonna
        # pay") is told beside it.
        if "dose_talk" in slots and not slots & _USE_OR_BODY:
            return Assessment(signal=None), "explained"
        if slots & explained.FIGURES:
            # "id literally die for those biscuits", "bout to murder this tray of crabs", "jk":
            # a figure of speech with nothing read beside it; the models need their overrule
            # score to read a crisis into it.
            return Assessment(signal=None), "explained"
        return Assessment(signal=None), None
    return Assessment(signal=_strongest(readings, slots, forms[0])), None


_USE_OR_BODY: Final = frozenset(
    {
        "use",
        "future_use",
        "overdose",
        "lost_tolerance",
        "sedated",
        "sedated_mild",
        "drowsy_now",
        "unresponsive",
        "wont_wake",
        "other",
    }
)
_CRISIS_TOPICS: Final = frozenset({"overdose", "naloxone", "unresponsive", "lost_tolerance"})
WRITER_AS_OBJECT: Final = re.compile(r"\b(?:me|us|nos|im|i)\b", re.ASCII)
_REPORTS: Final = frozenset({"report_self", "report_other", "future_use", "asked_done"})
_EDUCATIONAL_CATEGORIES: Final = frozenset(
    {CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY, CrisisCategory.RELAPSE_DANGER}
)


def slot_names(slots: frozenset[str]) -> tuple[str, ...]:
    return tuple(f"slot:{name}" for name in sorted(slots))
