"""How the crisis detector reads a message before any pattern: its normalised forms.

This module owns normalisation (:func:`normalize`, :func:`forms_of`): quotes, accents, case,
look-alike digits, letter runs, chat spellings and run-together phrases, and the sentence breaks
that keep an exception for one phrase from reading into the next. It also loads the phrase
lexicon (content/safety/crisis_phrases.yaml) once, for the patterns to share.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

from bot.services import crisis_frames

LEXICON: Final = crisis_frames.load_lexicon(crisis_frames.BUNDLED_PHRASES)

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
_WORD_MAP: Final[dict[str, str]] = dict(LEXICON["word_map"])
_WORD_MAP_PATTERN: Final = re.compile(r"\b(?:" + "|".join(sorted(_WORD_MAP)) + r")\b")
_RUN_TOGETHER: Final[dict[str, str]] = dict(LEXICON["run_together"])
_RUN_TOGETHER_PATTERN: Final = re.compile("|".join(sorted(_RUN_TOGETHER, key=len, reverse=True)))
_TARGETS_OF_OTHERS: Final = (
    r"him|her|them|someone|somebody|you|yourself|everyone|everybody|people|my|his|that|this"
)


def _digits(found: str) -> str:
    return found[: len(found) - len(found.lstrip("0123456789"))]


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
    # A small child's age as typed ("3yo", "2 y/o", "4yr old", "18mo"): "N year old".
    (r"\d{1,2} ?(?:yo|y o)", lambda found: _digits(found) + " year old"),
    (r"\d{1,2} ?yrs?(?= old)", lambda found: _digits(found) + " year"),
    (r"\d{1,2}mos?(?! old)|\d{1,2} ?mos? old", lambda found: _digits(found) + " month old"),
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


# The pill code "m30" (the counterfeit fentanyl pill, "m30s", "m15"), a small child's age ("my
# 3yo", "18mo") and an ordinal ("my 4th shot") keep their digits: they are not look-alike words,
# and folded to "meo", "eyo" or "ath" they would hide from the drug, child and count words.
_NOT_LEET: Final = re.compile(r"m\d{2}s?|\d{1,2}(?:yo|yr|yrs|mo|mos)|\d+(?:st|nd|rd|th)")


def _read_leet(match: re.Match[str]) -> str:
    token = match.group()
    # Only words that mix letters with look-alike digits ("k1ll", "d13"); "911", "2x" and "0d"
    # stay as typed.
    if (
        len(token) >= 3
        and not token.isalpha()
        and any(c.isalpha() for c in token)
        and _NOT_LEET.fullmatch(token) is None
    ):
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


def forms_of(text: str) -> tuple[str, ...]:
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
