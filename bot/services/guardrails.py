"""Medication guardrails: spot questions that ask for a personal decision about a medicine.

A patient asking whether to change a dose, stop, start, or mix a medicine with alcohol, drugs
or another medicine, or to take medicine prescribed for someone else, must be pointed to their
prescriber and care team, never answered by the library. Detection is tuned for recall in
English and Spanish; general educational questions ("how does methadone work") do not match.
Medication names go through the shared lexicon.

Two questions that look like dose questions are not for the prescriber (see
:func:`route_question`): someone asking how to give naloxone gets the overdose steps, and
someone reporting the signs of too much of an opioid medicine ("so sleepy on my new methadone
dose") gets those signs and the emergency steps.

The text is first reduced to a "shape": folded words in which every medication mention becomes
MED and every substance (alcohol, cannabis, opioids ...) becomes SUB, so the patterns can be
written once for all brand names, slang and misspellings. The patterns and the lexicon terms
they need are data, in ``content/guardrails/guardrail_phrases.yaml``, read once at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from bot.services.guardrail_phrases import BUNDLED_PHRASES, load_phrases
from bot.services.lexicon import Lexicon, words
from bot.services.library_files import bundled_lexicon

GuardrailKind = Literal["dose_change", "stop", "start", "mixing", "not_prescribed"]
RouteKind = Literal["prescriber", "naloxone_steps", "warning", "library"]


@dataclass(frozen=True, slots=True)
class GuardrailMatch:
    """A personal medication-decision question: its kind and the generic names it mentions."""

    kind: GuardrailKind
    medications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Which answer a free-text question gets, with the guardrail match for a prescriber one."""

    kind: RouteKind
    medications: tuple[str, ...] = ()
    guard: GuardrailMatch | None = None


# The patterns and the lexicon terms, named as in content/guardrails/guardrail_phrases.yaml.
_PHRASES: Final = load_phrases(BUNDLED_PHRASES)
# A personal medication decision, by kind.
_FRAME: Final = _PHRASES.pattern("frame")
_BARE_PAIR: Final = _PHRASES.pattern("bare_pair")
_FIRST_PERSON: Final = _PHRASES.pattern("first_person")
_EDUCATIONAL: Final = _PHRASES.pattern("educational")
_WHY: Final = _PHRASES.pattern("why")
_MIX_EXPLICIT: Final = _PHRASES.pattern("mix_explicit")
_MIX_WORD: Final = _PHRASES.pattern("mix_word")
_QUIT_SUBSTANCE: Final = _PHRASES.pattern("quit_substance")
_STOP: Final = _PHRASES.pattern("stop")
_STOP_WANTING: Final = _PHRASES.pattern("stop_wanting")
_START: Final = _PHRASES.pattern("start")
_DOSE: Final = _PHRASES.pattern("dose")
_DOSE_WORD: Final = _PHRASES.pattern("dose_word")
_TAKE_NUMBER: Final = _PHRASES.pattern("take_number")
# Someone else's medicine.
_CONSUME: Final = _PHRASES.pattern("consume")
_NOT_PRESCRIBED: Final = _PHRASES.pattern("not_prescribed")
# The signs of too much of an opioid medicine.
_TOO_MUCH: Final = _PHRASES.pattern("too_much")
_NOT_TOO_MUCH: Final = _PHRASES.pattern("not_too_much")
_DOSE_WORDS: Final = _PHRASES.pattern("dose_words")
_DOSE_WENT_UP: Final = _PHRASES.pattern("dose_went_up")
_GENERIC_QUESTION: Final = _PHRASES.pattern("generic_question")
_SOMEONE: Final = _PHRASES.pattern("someone")
# How to give naloxone, what to do in an overdose.
_NALOXONE_ACTION: Final = _PHRASES.pattern("naloxone_action")
_OVERDOSE_SIGNS: Final = _PHRASES.pattern("overdose_signs")
_RESPOND_TO_OVERDOSE: Final = _PHRASES.pattern("respond_to_overdose")
_SPRAY_AGAIN: Final = _PHRASES.pattern("spray_again")
# A missed dose, told or asked about in general.
_MISSED_HYPOTHETICAL: Final = _PHRASES.pattern("missed_hypothetical")
_MISSED_TOLD: Final = _PHRASES.pattern("missed_told")
_DECISION_IN_MISSED: Final = _PHRASES.pattern("decision_in_missed")
# Lexicon terms.
_PRESCRIPTION_SUBSTANCES: Final = _PHRASES.terms("prescription_substances")
_OPIOID_MEDICINES: Final = _PHRASES.terms("opioid_medicines")
_SEDATING_MEDICINES: Final = _PHRASES.terms("sedating_medicines")
_REVERSERS: Final = _PHRASES.terms("reversers")
_OVERDOSE_TERMS: Final = _PHRASES.terms("overdose_terms")


def _shape(
    text: str, lexicon: Lexicon, *, prescription_substances: bool = False
) -> tuple[str, tuple[str, ...]]:
    """Reduce text to folded words with MED for a medication and SUB for a substance.

    With prescription_substances, opioids, sedatives and stimulants (often someone's
    prescription) are MED too, for the someone-else's-medicine patterns.
    """
    parts: list[str] = []
    medications: list[str] = []
    for token in lexicon.analyse(text, lexicon.correct_medication_word):
        term = token.term
        if term is not None and term.group == "medications":
            parts.append("MED")
            if term.canonical not in medications:
                medications.append(term.canonical)
        elif term is not None and term.group == "substances":
            rx = prescription_substances and term.canonical in _PRESCRIPTION_SUBSTANCES
            parts.append("MED" if rx else "SUB")
        else:
            parts.append(token.text)
    return " ".join(parts), tuple(medications)


def classify_medication_question(
    text: str, *, lexicon: Lexicon | None = None
) -> GuardrailMatch | None:
    """Return the kind of medication decision a message asks about, or None if it asks none."""
    lexicon = lexicon or bundled_lexicon()
    shape, medications = _shape(text, lexicon)
    framed = _FRAME.search(shape) is not None or (
        "?" in text and _BARE_PAIR.search(shape) is not None
    )
    if _WHY.search(shape) or (_EDUCATIONAL.search(shape) and not framed):
        return None
    if not framed and not _FIRST_PERSON.search(shape):
        return None
    rx_shape, _ = _shape(text, lexicon, prescription_substances=True)
    if _NOT_PRESCRIBED.search(rx_shape) and _CONSUME.search(rx_shape):
        return GuardrailMatch(kind="not_prescribed", medications=medications)
    kind = _classify_shape(shape)
    return None if kind is None else GuardrailMatch(kind=kind, medications=medications)


def _classify_shape(shape: str) -> GuardrailKind | None:
    if _MIX_EXPLICIT.search(shape) or (_MIX_WORD.search(shape) and _DOSE_WORD.search(shape)):
        return "mixing"
    if _STOP.search(shape) or _STOP_WANTING.search(shape):
        return "stop"
    if (_DOSE.search(shape) and _DOSE_WORD.search(shape)) or _TAKE_NUMBER.search(shape):
        return "dose_change"
    if _START.search(shape):
        return "start"
    consumed = _QUIT_SUBSTANCE.sub(" ", shape)
    if re.search(r"\bSUB\b", consumed) and _DOSE_WORD.search(consumed):
        return "mixing"
    return None


def route_question(text: str, *, lexicon: Lexicon | None = None) -> Route:
    """Say which answer a free-text question gets.

    - ``warning``: the signs of too much of an opioid medicine (heavy sleepiness, nodding off,
      slow breathing) in the writer or someone else: the signs and the emergency steps, before
      anything about doses;
    - ``naloxone_steps``: how to give naloxone, or what to do in an overdose: a bystander's
      question, answered with the steps, never "your dose is set by your prescriber";
    - ``prescriber``: a personal medication decision (:func:`classify_medication_question`);
    - ``library``: everything else, including "what if I miss a dose" asked in general.
    """
    lexicon = lexicon or bundled_lexicon()
    tokens = lexicon.analyse(text, lexicon.correct_medication_word)
    shape, medications = _shape(text, lexicon)
    canonicals = {t.term.canonical for t in tokens if t.term is not None}
    groups = {t.term.canonical: t.term.group for t in tokens if t.term is not None}
    plain = " ".join(words(text))
    if _reads_as_warning(plain, shape, canonicals, groups):
        return Route("warning", medications)
    signs = _OVERDOSE_SIGNS.search(shape) is not None
    if canonicals & _REVERSERS and (signs or _NALOXONE_ACTION.search(shape)):
        return Route("naloxone_steps", medications)
    overdose = signs or bool(canonicals & _OVERDOSE_TERMS)
    if overdose and (_RESPOND_TO_OVERDOSE.search(shape) or _SPRAY_AGAIN.search(shape)):
        return Route("naloxone_steps", medications)
    if _MISSED_HYPOTHETICAL.search(shape) and not _DECISION_IN_MISSED.search(shape):
        return Route("library", medications)
    guard = classify_medication_question(text, lexicon=lexicon)
    if (
        guard is not None
        and guard.kind == "dose_change"
        and _MISSED_TOLD.search(shape)
        and not _FRAME.search(shape)
        and not _DECISION_IN_MISSED.search(shape)
    ):
        return Route("library", medications)
    if guard is not None:
        return Route("prescriber", guard.medications, guard)
    return Route("library", medications)


def _reads_as_warning(
    plain: str, shape: str, canonicals: set[str], groups: Mapping[str, str]
) -> bool:
    if not _TOO_MUCH.search(plain) or _NOT_TOO_MUCH.search(plain):
        return False
    if _GENERIC_QUESTION.search(plain) and not _SOMEONE.search(plain):
        return False  # "does methadone make you sleepy" asks how a medicine works
    if canonicals & (_OPIOID_MEDICINES | _SEDATING_MEDICINES) or any(
        groups.get(name) == "substances" for name in ("opioid", "sedative")
    ):
        return True
    other_medicine = any(group == "medications" for group in groups.values())
    if other_medicine:
        return False  # "so tired on chantix" is a side effect, not too much of an opioid
    return _DOSE_WENT_UP.search(shape) is not None or _DOSE_WORDS.search(shape) is not None
