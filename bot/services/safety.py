"""Crisis-language detection: the deterministic detector behind the safety net.

This module owns the decision "does this text signal a crisis, and of which kind". It is pure
(no I/O, no logging, no clock), deterministic (regular expressions, then a small linear model
with fixed weights shipped in the package, :mod:`bot.services.crisis_model`, and, when the
caller passes it, the semantic layer of :mod:`bot.services.crisis_semantic`, a sentence encoder
and a linear head whose weights ship in the package too; no network) and tuned for RECALL: a
false alarm costs the patient one extra message and the care team one alert, a miss can cost a
life. English and Spanish patterns are both applied to every message,
whatever language the patient chose.

How a message is matched:

1. It is normalised (:func:`normalize`): quotes straightened and apostrophes removed
   ("don't" -> "dont"), accents stripped ("suicidárme" -> "suicidarme"), case folded, digits
   inside words read as letters ("k1ll" -> "kill"), everything that is not a letter or digit
   turned into one space, runs of three or more of the same letter collapsed ("diiiie" ->
   "die"), and common internet forms mapped to plain words ("kms" -> "kill myself", "kys" ->
   "kill yourself", "unalive", "sewerslide", "self delete", "can not" -> "cant", "wanna" ->
   "want to", "kiero" -> "quiero", "od'd" -> "overdosed"). A letter run is also tried collapsed
   to two letters ("killlll" -> "kill").
2. Patterns are matched on whole words, so "diet", "studied", "skill", "overdue", "cutting
   board" and "killing time" do not match. Euphemisms ("end it all", "off myself", "not wake
   up", "dirt nap", "final exit") are patterns of their own.
3. Negation is deliberately ignored: "I don't want to die but I keep thinking about it" and
   "I'm not suicidal" both match.
4. When several categories match, the most severe wins (:data:`SEVERITY_ORDER`). Severity is the
   urgency of a threat to life in the next minutes: an overdose or another medical emergency
   needs 911 and naloxone now, so it outranks suicide, which outranks harm to others, danger
   or abuse, and self-harm. Within a category an English pattern is reported before a Spanish
   one.

Known false positives that are accepted (documented with examples in the test corpus): bare
mentions of suicide or overdose ("my cousin died by suicide"), idioms that use crisis words
("I'm dying" on its own, "my mom is going to kill me", "I could kill him", "this chest pain",
"I can't take it anymore" about a headache, "no puedo más"), accidents described with
self-harm words ("I cut myself shaving", "I hurt myself at the gym"), and sleepiness that is an
overdose sign on methadone ("I can't stay awake", "nodding out"). A few educational framings
are deliberately quiet because patients of a dTMS programme ask them routinely: "seizure risk",
"history of seizures", "risk of overdose", "overdose prevention", "how does naloxone reverse an
overdose"; "dying to try it" and "dying for a cigarette" are read as idioms too. "Killing time"
and "this craving is killing me" do not match: "X is killing me" describes discomfort, and
craving is recorded by the daily check-in. "odd" is an ordinary word and only "od'd" (with an
apostrophe) is read as "overdosed".

5. When the rules raise nothing, the models score the message (:func:`_model_signal`): the
   n-gram model and, when the caller passes it, the semantic layer (a multilingual sentence
   encoder and a linear head, :mod:`bot.services.crisis_semantic`), their two crisis
   probabilities joined. They catch wording no rule spells out, with their scores and top
   n-grams as reasons. They never overrule a question, memory or idiom the rules recognised
   unless the score reaches the "overrule" threshold.

The detector itself does no I/O and keeps no state; the semantic layer it may be given runs a
model and logs, once, if that model fails. The result never carries or logs the text, only
the category, the locale of the pattern and the scores.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.models import SEVERITY_ORDER, CrisisCategory
from bot.services import crisis_frames, crisis_model
from bot.services.crisis_semantic import CrisisHead, HeadReading, SemanticLayer, combine

__all__ = [
    "SEVERITY_ORDER",
    "Assessment",
    "CrisisCategory",
    "CrisisSignal",
    "Tier",
    "Who",
    "assess",
    "detect_crisis",
    "normalize",
]


class Tier(StrEnum):
    """How sure the detector is that the message is a crisis."""

    CLEAR = "clear"  # the full answer and an urgent alert at once
    POSSIBLE = "possible"  # "Are you safe right now?" with buttons; silence alerts the team


class Who(StrEnum):
    """Who is at risk: the writer or someone with them."""

    SELF = "self"
    OTHER = "other"


_LOCALES: Final[tuple[str, ...]] = ("en", "es")
_LEXICON: Final = crisis_frames.load_lexicon(crisis_frames.BUNDLED_PHRASES)


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    """A crisis signal: what kind, how sure, who is at risk, and why (never the text itself).

    ``locale`` is the language of the first rule that fired; ``reasons`` names the rules and
    meaning slots that fired ("phrase:suicide:en", "slot:other+unresponsive"), so a clinician
    or a test can see why a message alarmed. ``layer`` says which layer raised it ("rules",
    "model" for the n-gram model alone, "semantic" for the n-gram model and the semantic head
    together) and ``score`` the probability a model layer read (None for the rules): these two
    are what a log line may carry.
    """

    category: CrisisCategory
    locale: str
    tier: Tier = Tier.CLEAR
    who: Who = Who.SELF
    reasons: tuple[str, ...] = ()
    layer: str = "rules"
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's reading of one message.

    ``signal`` is a crisis to answer (None when there is none). ``question`` is set when the
    message asks about a crisis topic (overdose signs, mixing, naloxone) without reporting one:
    it is answered from the library with the emergency steps on top, and nobody is paged.
    """

    signal: CrisisSignal | None
    question: bool = False
    reasons: tuple[str, ...] = ()

    def explain(self) -> str:
        """Return the reasons as one line, for tests and the evaluation's miss list."""
        if self.signal is not None:
            return f"{self.signal.tier} {self.signal.category} ({self.signal.who}): " + ", ".join(
                self.signal.reasons
            )
        if self.question:
            return "question: " + ", ".join(self.reasons)
        return "quiet"


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

_QUOTES: Final = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark, the usual phone apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u02bc": "'",  # modifier letter apostrophe
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent typed as an apostrophe
        "`": "'",
        "\uff07": "'",  # fullwidth apostrophe
        "&": " and ",
        "\U0001f602": " lol ",  # face with tears of joy: laughing at a figure of speech
        "\U0001f923": " lol ",  # rolling on the floor laughing
    }
)
# Combining accents (what NFKD splits off "á" and "ñ") and invisible characters (zero-width
# spaces and joiners, soft hyphens, byte-order marks) that would split a word in two.
_MARKS: Final = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_OD_APOSTROPHE: Final = re.compile(r"\bo\.?d\.?\s*'\s*(d|ed|ing)\b")
_LEET_CHAR: Final = re.compile(r"[0-9@$]")
_WORDISH: Final = re.compile(r"[a-z0-9@$]+")
_LEET: Final = str.maketrans("0134579@$", "oieastgas")
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
_NOT_WORD_OR_BREAK: Final = re.compile(r"[^a-z0-9\x1f]+")
# A sentence break: one stop, or ! ? ; , : followed by a space, or a new line. An ellipsis is
# not a break ("i just want to... disappear").
_SENTENCE_BREAK: Final = re.compile(r"(?:(?<!\.)\.(?!\.)|[!?;,:]+)(?=\s)|\n")
_LETTER_RUN: Final = re.compile(r"([a-z])\1{2,}")

# Single words typed in place of plain ones (chat spelling, slang, common typos), and phrases
# run together, as in hashtags ("#iwanttodie"): kept as data in content/safety/crisis_phrases.yaml.
_WORD_MAP: Final[dict[str, str]] = dict(_LEXICON["word_map"])
_WORD_MAP_PATTERN: Final = re.compile(r"\b(?:" + "|".join(sorted(_WORD_MAP)) + r")\b")
_RUN_TOGETHER: Final[dict[str, str]] = dict(_LEXICON["run_together"])
_RUN_TOGETHER_PATTERN: Final = re.compile("|".join(sorted(_RUN_TOGETHER, key=len, reverse=True)))
_TARGETS_OF_OTHERS: Final = (
    r"him|her|them|someone|somebody|you|yourself|everyone|everybody|people|my|his|that|this"
)

# Multi-word forms, rewritten in one pass after the single-word map. Earlier rules win where
# two could start at the same place ("unalive myself" before "unalive").
_PHRASE_RULES: Final[tuple[tuple[str, Callable[[str], str]], ...]] = (
    (r"can not", lambda _: "cant"),
    # "i dont want to be here no more": a chat form of "anymore" at the end of a clause.
    (r"no more(?= \.|$)", lambda _: "anymore"),
    (r"do not", lambda _: "dont"),
    (r"will not", lambda _: "wont"),
    (r"does not", lambda _: "doesnt"),
    (r"did not", lambda _: "didnt"),
    (r"is not", lambda _: "isnt"),
    (r"are not", lambda _: "arent"),
    (r"was not", lambda _: "wasnt"),
    (r"could not", lambda _: "couldnt"),
    (r"i am", lambda _: "im"),
    (r"he is", lambda _: "hes"),
    (r"she is", lambda _: "shes"),
    (r"they are", lambda _: "theyre"),
    (r"it is", lambda _: "its"),
    (
        r"(?:want|wants|wanted|going|ready|need|have|got|wish|trying|about|deserve|like) 2",
        lambda found: found[:-1] + "to",
    ),
    (
        r"(?:took|take|taking|taken|used) (?:2|to) (?:much|many)",
        lambda found: found.split()[0] + " too " + found.split()[2],
    ),
    (r"my self", lambda _: "myself"),
    (r"your self", lambda _: "yourself"),
    (r"some one", lambda _: "someone"),
    (r"sewer ?(?:slide|side|slid)\w*", lambda _: "suicide"),
    (r"self ?delet\w*", lambda _: "suicide"),
    (r"(?:commit|kermit) (?:sudoku|die|toaster bath|seppuku|suicide)", lambda _: "commit suicide"),
    (r"un ?aliv(?:e|ed|es|ing)? (?:me|myself)", lambda _: "kill myself"),
    (r"un ?aliv(?:e|ed|es|ing)?(?= (?:" + _TARGETS_OF_OTHERS + r")\b)", lambda _: "kill"),
    (r"un ?aliv\w*", lambda _: "kill myself"),
    (r"od (?:d|ed)", lambda _: "overdosed"),
    (r"over dos(?:e|ed|es|ing)", lambda found: found.replace(" ", "")),
    (r"sobre dosis", lambda _: "sobredosis"),
    (r"(?:feeling|feel|im|so|very|bit) sui", lambda found: found[:-3] + "suicidal"),
    (r"sui (?:thoughts|ideation|vibes)", lambda found: "suicidal" + found[3:]),
)
_PHRASE_PATTERN: Final = re.compile(
    r"\b(?:"
    + "|".join(f"(?P<r{index}>{pattern})" for index, (pattern, _) in enumerate(_PHRASE_RULES))
    + r")\b"
)


def _rewrite_phrase(match: re.Match[str]) -> str:
    rule = match.lastgroup
    if rule is None:  # every alternative is a named group, so this never happens
        return match.group()
    return _PHRASE_RULES[int(rule[1:])][1](match.group())


def _strip_marks(text: str) -> str:
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def _read_leet(match: re.Match[str]) -> str:
    token = match.group()
    # Only words that mix letters with look-alike digits ("k1ll", "d13"); "911", "2x" and "0d"
    # stay as typed.
    if len(token) >= 3 and not token.isalpha() and any(c.isalpha() for c in token):
        return token.translate(_LEET)
    return token


def _map_words(text: str) -> str:
    if _RUN_TOGETHER_PATTERN.search(text):
        text = _RUN_TOGETHER_PATTERN.sub(lambda m: f" {_RUN_TOGETHER[m.group()]} ", text)
        text = " ".join(text.split())
    text = _WORD_MAP_PATTERN.sub(lambda m: _WORD_MAP[m.group()], text)
    return _PHRASE_PATTERN.sub(_rewrite_phrase, text)


def _fold(text: str) -> str:
    """Fold quotes, marks, case and look-alike digits; punctuation and letter runs stay."""
    text = text.translate(_QUOTES)
    if not text.isascii():
        text = _strip_marks(text)
    text = text.casefold()
    text = _OD_APOSTROPHE.sub(
        lambda m: " overdosing " if m.group(1) == "ing" else " overdosed ", text
    )
    text = text.replace("'", "")
    if _LEET_CHAR.search(text) is None:
        return text
    return _WORDISH.sub(_read_leet, text)


def _forms(text: str) -> tuple[str, ...]:
    """Return every normalised form of ``text`` that the patterns are matched against.

    The flat form joins words across punctuation ("i.want.to.die"). When the text has sentence
    breaks, a second form keeps them as " . ", so that an exception written for one phrase
    ("wake up" followed by "so early") never reads into the next sentence ("...never wake up.
    So tired"). Each form is tried with letter runs cut to one letter and to two.
    """
    folded = _fold(text)
    flats = [_NOT_WORD.sub(" ", folded).strip()]
    if _SENTENCE_BREAK.search(folded):
        marked = _SENTENCE_BREAK.sub(" \x1f ", folded)
        flats.append(_NOT_WORD_OR_BREAK.sub(" ", marked).replace("\x1f", ".").strip())
    forms: list[str] = []
    for flat in flats:
        if _LETTER_RUN.search(flat) is None:
            forms.append(_map_words(flat))
        else:
            forms.append(_map_words(_LETTER_RUN.sub(r"\1", flat)))
            forms.append(_map_words(_LETTER_RUN.sub(r"\1\1", flat)))
    return tuple(forms)


def normalize(text: str) -> str:
    """Return the folded form of ``text`` that the crisis patterns are matched against."""
    flat = _NOT_WORD.sub(" ", _fold(text)).strip()
    return _map_words(_LETTER_RUN.sub(r"\1", flat))


# ---------------------------------------------------------------------------------------------
# Patterns (written against normalised text: lowercase ASCII words separated by single spaces)
# ---------------------------------------------------------------------------------------------

# Filler words people put inside a phrase ("i just really want to die").
_PIECES: Final[dict[str, str]] = crisis_frames.expand_pieces(_LEXICON["pieces"])
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
        _compile(crisis_frames.expand_all(_LEXICON["clear"][category][locale], _PIECES)),
    )
    for category in SEVERITY_ORDER
    if category in _LEXICON["clear"]
    for locale in _LOCALES
)
_POSSIBLE: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (locale, _compile(crisis_frames.expand_all(_LEXICON["possible"][locale], _PIECES)))
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


def _slots(form: str) -> frozenset[str]:
    return frozenset(name for name, pattern in _SLOTS.items() if pattern.search(form))


def _guess_locale(form: str) -> str:
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
    who = _who(slots)
    drugs = bool(slots & {"drug", "opioid", "depressant", "use", "overdose", "naloxone"})
    if "unresponsive" in slots or ("wont_wake" in slots and (drugs or "other" in slots)):
        # A body that does not wake or breathe: after drugs it is an overdose (naloxone first),
        # otherwise another medical emergency; the answer starts with the emergency number.
        # Blue or grey lips and skin are the look of an opioid overdose.
        overdose = drugs or "cyanosis" in slots
        category = CrisisCategory.OVERDOSE if overdose else CrisisCategory.MEDICAL_EMERGENCY
        found.append((category, Tier.CLEAR, who, "unresponsive"))
    if "overdose" in slots:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "overdose"))
    if "sedated" in slots and drugs:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "use+sedated"))
    elif "sedated_mild" in slots and slots & {"use", "opioid", "depressant", "overdose"}:
        found.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "use+drowsy"))
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


def _who(slots: frozenset[str]) -> Who:
    if "other" in slots and ("report_other" in slots or "report_self" not in slots):
        return Who.OTHER
    return Who.SELF


_QUESTION_MARK: Final = re.compile(r"\?\s*$|\u00bf")
# A question that still reveals intent or method is never "only a question".
_INTENT_IN_QUESTION: Final = re.compile(
    r"\b(?:to die|to kill (?:myself|me)|kill myself|end it|end my life|not wake up|never wake up"
    r"|morir|matarme|quitarme la vida|no despertar|how many (?:\w+ ){0,3}(?:would it|does it"
    r"|will it|to) (?:take|die|kill)|lethal dose|fatal dose|dosis letal|dosis mortal|painless"
    r"|asking for me|for me|(?:whats|what is) (?:even )?the point|para que|de que sirve"
    r"|let it happen"
    r"|perdone)\b",
    re.ASCII,
)


def _is_question(text: str, form: str, slots: frozenset[str]) -> bool:
    """Return True for a question about a crisis topic that reports no crisis happening now."""
    # A question mark alone makes a question only of words that say nothing of the writer:
    # "i think it was laced with fent?" is a report with a worried tone.
    asked = (
        "question" in slots
        or "help_frame" in slots
        or (_QUESTION_MARK.search(text) is not None and "first_person" not in slots)
    )
    if not asked or _INTENT_IN_QUESTION.search(form):
        return False
    report = bool(slots & _REPORTS)
    if slots & {"unresponsive", "sedated"} and (report or not _hypothetical(form)):
        return False
    if "sedated_mild" in slots and report:
        return False
    return not (report and slots & {"now", "overdose", "use"} and not _hypothetical(form))


def _general_question(slots: frozenset[str]) -> bool:
    """A question about suicide, self-harm or violence in general, not about the writer now."""
    return "help_frame" in slots or "first_person" not in slots


_HYPOTHETICAL: Final = re.compile(
    r"\b(?:if (?:i|you|someone|somebody|a person|they|he|she)|what if|si (?:yo |alguien |una"
    r" persona |me |se )?\w+|que pasa si|in case)\b",
    re.ASCII,
)


def _hypothetical(form: str) -> bool:
    return _HYPOTHETICAL.search(form) is not None


# Readings that a memory, a film or an idiom can explain away ("2 years ago I overdosed",
# "that movie was an overdose of cheese", "my boss is gonna kill me"); a reading that also has
# a present sign (a body that does not respond, sedation, a plan) is never explained away.
_PRESENT_SIGNS: Final = frozenset({"unresponsive", "sedated", "wont_wake"})
_PRESENT_RULES: Final = frozenset(
    {
        "means_and_finality",
        "other_intent_suicide",
        "intent_to_harm_others",
        "violence_against_me",
        "self_harm_now",
        "medical_signs",
        "farewell_or_passive_wish",
        "use+danger",
        "intent_to_use_now",
    }
)


def _told_outside_the_question(forms: tuple[str, ...]) -> CrisisSignal | None:
    """Return the crisis told in one sentence of several, each read on its own ("esto es un
    adios. does suboxone interact with ibuprofen?"); None when there is none."""
    if len(forms) < 2:  # one sentence: the question is the whole message
        return None
    sentences = [part.strip() for part in forms[-1].split(" . ") if part.strip()]
    if len(sentences) < 2:
        return None
    # A conditional clause ("if someone overdoses, ...") belongs to its question.
    signals = [
        _assess_rules(sentence)[0].signal for sentence in sentences if not _hypothetical(sentence)
    ]
    found = [signal for signal in signals if signal is not None]
    if not found:
        return None
    rank = {category: index for index, category in enumerate(SEVERITY_ORDER)}
    return min(found, key=lambda sig: (sig.tier is not Tier.CLEAR, rank[sig.category]))


def _reason(reading: Reading) -> str:
    return reading[4].split(":", 1)[1]


def _present(reading: Reading) -> bool:
    """Return whether a reading tells of something happening now (a rule or a frame)."""
    return _reason(reading) in _PRESENT_RULES or reading[4] in _PRESENT_FRAMES


def _explained_away(reading: Reading, slots: frozenset[str]) -> bool:
    if _present(reading) or slots & _PRESENT_SIGNS:
        return False
    if "idiom_threat" in slots and reading[0] in {
        CrisisCategory.ABUSE_OR_DANGER,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
    }:
        return True
    if (
        "laughing" in slots
        and reading[1] is Tier.CLEAR
        and reading[0]
        in {
            CrisisCategory.MEDICAL_EMERGENCY,
            CrisisCategory.ABUSE_OR_DANGER,
            CrisisCategory.HARM_TO_OTHERS,
        }
    ):
        return True
    if "fiction" in slots and reading[0] in {
        CrisisCategory.OVERDOSE,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
    }:
        return True
    return (
        "remembrance" in slots
        and "present" not in slots
        and reading[0] is not CrisisCategory.ABUSE_OR_DANGER
    )


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
    who = _who(slots)
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
    locale = _guess_locale(forms[0])
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
    if category is CrisisCategory.ABUSE_OR_DANGER and _WRITER_AS_OBJECT.search(form):
        who = Who.SELF  # "he threw me": the writer is the one in danger
    reasons = tuple(dict.fromkeys(r[4] for r in readings)) + _slot_names(slots)
    return CrisisSignal(category=category, locale=locale, tier=tier, who=who, reasons=reasons)


def _assess_rules(text: str) -> tuple[Assessment, str | None]:
    """Read one message with the rules alone.

    Returns the assessment and, when the rules saw crisis words but read them as something
    else, why: "question" (asked about, not reported) or "explained" (a memory, a film, an
    idiom). The model needs a very high score to overrule either reading.
    """
    forms = _forms(text)
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= _slots(form)
    readings = _readings(forms, slots)
    explained = [r for r in readings if _explained_away(r, slots)]
    readings = [r for r in readings if r not in explained]
    if explained and not readings:
        # A memory in one sentence does not explain away a crisis told in another.
        told = _told_outside_the_question(forms)
        return Assessment(signal=told), None if told is not None else "explained"
    if _is_question(text, forms[0], slots):
        # Only a question on a crisis topic is marked as one (it gets the emergency steps on
        # top); "what time is my appointment?" is an ordinary question.
        topic = bool(readings) or bool(slots & _CRISIS_TOPICS) or {"opioid", "depressant"} <= slots
        readings = _kept_in_a_question(readings, slots)
        if not readings:
            told = _told_outside_the_question(forms)
            if told is None:
                question = Assessment(signal=None, question=topic, reasons=_slot_names(slots))
                return question, "question"
            return Assessment(signal=told), None
    if not readings:
        return Assessment(signal=None), None
    return Assessment(signal=_strongest(readings, slots, forms[0])), None


def _model_signal(
    text: str, quieted: str | None, semantic: SemanticLayer | None
) -> CrisisSignal | None:
    """Return the models' signal for a message the rules left quiet, or None.

    With the semantic layer (:mod:`bot.services.crisis_semantic`), the n-gram model's and the
    head's crisis probabilities are joined (:func:`~bot.services.crisis_semantic.combine`) and
    read against the head's thresholds: at or above "clear" a clear crisis, at or above
    "possible" a possible one; a message the head reads as a question raises nothing from the
    join. Whenever the join raises nothing (and without the layer: it could not load, or
    failed on this message) the n-gram model reads alone, against its own thresholds, so the
    layer only ever adds catches: a score at or above the clear threshold answers as a clear
    crisis, at or above the possible threshold as a possible one, and overdose and suicide are
    read first for recall: when the category head names one of them with confidence, a lower
    score is enough for the possible tier. Either way, a question, a memory or an idiom that the
    rules recognised is overruled only by a score at or above the "overrule" threshold.
    """
    forms = _forms(text)
    if crisis_model.word_count(forms[0]) < crisis_model.MIN_WORDS:
        return None  # "no", "Room 2", "9:30": too little text for n-grams to mean anything
    score = crisis_model.MODEL.score(forms[0])
    reading = semantic.read(text) if semantic is not None else None
    judged = None
    if semantic is not None and reading is not None:
        judged = _joined_judgement(score, reading, semantic.head, quieted)
        if judged is not None:
            tier, category, layer_reasons = judged
            joined = combine(score.crisis, reading.crisis, semantic.head.weight)
            layer, layer_score = "semantic", joined
    if judged is None:
        # The n-gram model's own reading stands whatever the head says: the semantic layer
        # adds catches, it never takes one away (a miss can cost a life, a false alarm little).
        tier_alone = _model_tier(score, quieted)
        if tier_alone is None:
            return None
        tier, category = tier_alone, CrisisCategory(score.category)
        layer_reasons = (
            f"model:{score.crisis:.2f}",
            f"model_category:{score.category}:{score.category_probability:.2f}",
        )
        layer, layer_score = "model", score.crisis
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= _slots(form)
    who = _who(slots)
    if category is CrisisCategory.ABUSE_OR_DANGER and _WRITER_AS_OBJECT.search(forms[0]):
        who = Who.SELF
    reasons = (
        *layer_reasons,
        *(f"ngram:{name}" for name in crisis_model.MODEL.top_ngrams(forms[0])),
        *_slot_names(slots),
    )
    return CrisisSignal(
        category=category,
        locale=_guess_locale(forms[0]),
        tier=tier,
        who=who,
        reasons=reasons,
        layer=layer,
        score=round(layer_score, 3),
    )


def _model_tier(score: crisis_model.Score, quieted: str | None) -> Tier | None:
    """The n-gram model alone: the tier its score reaches, or None."""
    limits = crisis_model.MODEL.thresholds
    if quieted is not None:
        return Tier.POSSIBLE if score.crisis >= limits["overrule"] else None
    if score.crisis >= limits["clear"]:
        return Tier.CLEAR
    if score.crisis >= limits["possible"] or (
        score.category in _RECALL_FIRST
        and score.category_probability >= limits["focus_category"]
        and score.crisis >= limits["focus"]
    ):
        return Tier.POSSIBLE
    return None


def _joined_judgement(
    score: crisis_model.Score,
    reading: HeadReading,
    head: CrisisHead,
    quieted: str | None,
) -> tuple[Tier, CrisisCategory, tuple[str, ...]] | None:
    """The n-gram model and the semantic head together: tier, category and reasons, or None."""
    if reading.reads_as_question:
        return None  # asked, not told: the article answers, nobody is paged
    limits = head.thresholds
    joined = combine(score.crisis, reading.crisis, head.weight)
    if quieted is not None:
        if joined < limits["overrule"]:
            return None
        tier = Tier.POSSIBLE
    elif joined >= limits["clear"]:
        tier = Tier.CLEAR
    elif joined >= limits["possible"]:
        tier = Tier.POSSIBLE
    else:
        return None
    # The category both heads find likeliest together (a sum of log-probabilities).
    log_model = (math.log(max(p, 1e-12)) for p in score.category_probabilities)
    together = [m + h for m, h in zip(log_model, reading.category_log_probabilities, strict=True)]
    best = max(range(len(together)), key=together.__getitem__)
    category = CrisisCategory(head.categories[best])
    reasons = (
        f"semantic:{joined:.2f}",
        f"model:{score.crisis:.2f}",
        f"semantic_head:{reading.crisis:.2f}",
        f"semantic_category:{category.value}",
    )
    return tier, category, reasons


def assess(text: str, semantic: SemanticLayer | None = None) -> Assessment:
    """Read one message: a crisis signal (with tier, who and reasons), a question, or quiet.

    The rules are read first; when they raise nothing, the statistical models may still raise a
    signal on wording the rules do not know: the n-gram model (:mod:`bot.services.crisis_model`)
    and, when it is given, the semantic layer (:mod:`bot.services.crisis_semantic`), which
    embeds the message (milliseconds of C code that release the GIL: the handler runs this in
    a worker thread). A message the rules decide on is never embedded.
    """
    if not text:
        return Assessment(signal=None)
    assessment, quieted = _assess_rules(text)
    if assessment.signal is not None:
        return assessment
    signal = _model_signal(text, quieted, semantic)
    if signal is None:
        return assessment
    return Assessment(signal=signal, question=assessment.question, reasons=assessment.reasons)


_RECALL_FIRST: Final = frozenset({"overdose", "suicide"})
_CRISIS_TOPICS: Final = frozenset({"overdose", "naloxone", "unresponsive", "lost_tolerance"})
_WRITER_AS_OBJECT: Final = re.compile(r"\b(?:me|us|nos|im|i)\b", re.ASCII)
_REPORTS: Final = frozenset({"report_self", "report_other", "future_use"})
_EDUCATIONAL_CATEGORIES: Final = frozenset(
    {CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY, CrisisCategory.RELAPSE_DANGER}
)


def _slot_names(slots: frozenset[str]) -> tuple[str, ...]:
    return tuple(f"slot:{name}" for name in sorted(slots))


def detect_crisis(text: str, semantic: SemanticLayer | None = None) -> CrisisSignal | None:
    """Return the crisis signal in ``text`` (clear before possible, most severe first), or None."""
    return assess(text, semantic).signal
