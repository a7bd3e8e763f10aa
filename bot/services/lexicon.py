"""Text normalisation, fuzzy word matching and the medication lexicon.

One normaliser serves every text feature: the library search (``search``), mapping
prescriber-typed medication names to generic names, and the medication-question guardrails.
Text is lowercased, stripped of accents, split into words and lightly stemmed; lexicon entries
(brand names, slang, misspellings, Spanish names) are recognised as phrases and mapped to a
canonical term; unknown words can be corrected to the nearest known word by edit distance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

TermGroup = Literal["medications", "substances", "terms"]
TERM_GROUPS: tuple[TermGroup, ...] = ("medications", "substances", "terms")

_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile("(?<=[a-z])['\u2019\u0060\u00b4](?=[a-z])")
_DOUBLE_CONSONANT = re.compile(r"([bcdfgkmnprtvz])\1$")
_VOWEL = re.compile(r"[aeiouy]")

# Stems that the light suffix rules would get wrong; kept small on purpose.
_STEM_EXCEPTIONS: Mapping[str, str] = {
    "used": "use",
    "uses": "use",
    "using": "use",
    "user": "use",
    "users": "use",
    "dosing": "dos",
    "dosed": "dos",
    "doses": "dos",
    "news": "news",
    "during": "during",
    "nothing": "nothing",
    "something": "something",
    "anything": "anything",
    "everything": "everything",
    "morning": "morning",
    "evening": "evening",
    "thing": "thing",
    "things": "thing",
    "feeling": "feel",
    "feelings": "feel",
}

# English and common Spanish function words, folded (no accents, no apostrophes).
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are aren arent as at be because been
    before being below between both but by can cant could couldn d did didn didnt do does doesn
    doesnt doing don dont down during each few for from further get gets getting got had hadn has
    hasn hasnt have haven havent having he her here hers herself him himself his how i id if im in
    into is isn isnt it its itself ive just ll m me might mine more most must my myself need no
    nor not now of off on once only or other ought our ours ourselves out over own please re s
    same shall she should so some such t than that thats the their theirs them themselves then
    there these they this those through thing to too tell u under until up us ve very want was
    wasn we were weren what whats when where which while who whom why will with won would wouldn
    y yes you your youre yours yourself yourselves know like ok okay hi hey since still really
    even much many lot lots nothing something anything everything someone somebody anyone
    anybody thanks thank just
    el la los las lo un una unos unas de del al y o que en es por con para mi mis me se su sus
    como cual cuando donde yo tu le les esta este esto eso estoy hay muy mas pero si sin sobre
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def fold(text: str) -> str:
    """Return text lowercased, without accents, with in-word apostrophes removed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _APOSTROPHES.sub("", stripped)


def words(text: str) -> list[str]:
    """Split text into folded words (letters and digits)."""
    return _WORD.findall(fold(text))


def stem(word: str) -> str:
    """Strip common English plural, -ing, -ed and final -e endings from a folded word."""
    if word in _STEM_EXCEPTIONS:
        return _STEM_EXCEPTIONS[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6 and _VOWEL.search(word[:-3]):
        word = _DOUBLE_CONSONANT.sub(r"\1", word[:-3])
    elif (
        word.endswith("ed")
        and not word.endswith("eed")
        and len(word) >= 5
        and _VOWEL.search(word[:-2])
    ):
        word = _DOUBLE_CONSONANT.sub(r"\1", word[:-2])
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def edit_distance(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of a and b, or limit + 1 if it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return previous[-1]


def allowed_typos(word: str) -> int:
    """Return how many edits a word of this length may contain: 0 below 4, 1 up to 7, else 2."""
    if len(word) < 4 or not word.isalpha():
        return 0
    return 1 if len(word) <= 7 else 2


def nearest_word(matcher: FuzzyMatcher, word: str) -> str | None:
    """Return the known word a possibly misspelt word stands for, within its typo allowance.

    Words under eight letters must keep their first letter: typos there are rare, and without
    this rule short words jump to unrelated ones ("joke" to "coke").
    """
    return matcher.closest(word, allowed_typos(word), same_first_letter=len(word) < 8)


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w)) if len(w) > 1}
        found |= frontier
    return found


class FuzzyMatcher:
    """Find the closest known word within a small edit distance (symmetric-deletion index)."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        """Index every word of vocabulary; the value breaks ties (higher is preferred)."""
        self._weights = dict(vocabulary)
        self._longest = max((len(word) for word in self._weights), default=0)
        self._deletes: dict[str, list[str]] = {}
        for word in self._weights:
            depth = 2 if len(word) >= 6 else 1
            for variant in _deletions(word, depth):
                self._deletes.setdefault(variant, []).append(word)

    def __contains__(self, word: object) -> bool:
        """Tell whether word is in the vocabulary."""
        return word in self._weights

    def closest(
        self, word: str, max_distance: int, *, same_first_letter: bool = False
    ) -> str | None:
        """Return the vocabulary word nearest to word within max_distance, or None.

        With same_first_letter, only words starting with the same letter qualify.
        """
        if max_distance <= 0:
            return None
        if word in self._weights:
            return word
        if len(word) - max_distance > self._longest:
            # No known word is that close; listing this word's deletions would cost the square
            # of its length in strings (a 5,000-letter message, gigabytes).
            return None
        candidates: set[str] = set()
        for variant in _deletions(word, max_distance):
            candidates.update(self._deletes.get(variant, ()))
        best: tuple[int, int, str] | None = None
        for candidate in candidates:
            if same_first_letter and candidate[:1] != word[:1]:
                continue
            distance = edit_distance(word, candidate, max_distance)
            if distance > max_distance:
                continue
            key = (distance, -self._weights[candidate], candidate)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]


@dataclass(frozen=True, slots=True)
class Term:
    """A canonical lexicon term such as a generic medication name."""

    canonical: str
    group: TermGroup
    stems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Token:
    """A word, or a lexicon phrase recognised as one unit, of an analysed text."""

    text: str
    stems: tuple[str, ...]
    term: Term | None

    @property
    def is_stopword(self) -> bool:
        """Tell whether the token is a stopword that carries no meaning for search."""
        return self.term is None and self.text in STOPWORDS


class LexiconError(ValueError):
    """The lexicon data is malformed; the message says what is wrong."""


Corrector = Callable[[str, str], str]


class Lexicon:
    """Maps brand names, slang, misspellings and Spanish names to canonical terms."""

    def __init__(self, entries: Mapping[TermGroup, Mapping[str, Sequence[str]]]) -> None:
        """Build the phrase table from {group: {canonical: [alias, ...]}}."""
        self._phrases: dict[tuple[str, ...], Term] = {}
        self._aliases: dict[tuple[str, ...], Term] = {}
        self._terms: dict[str, Term] = {}
        self._longest = 1
        for group in TERM_GROUPS:
            for canonical, aliases in entries.get(group, {}).items():
                canonical_stems = tuple(stem(w) for w in words(canonical))
                if not canonical_stems:
                    raise LexiconError(f"{group}: {canonical!r} has no words")
                if canonical in self._terms:
                    raise LexiconError(f"{group}: {canonical!r} is defined twice")
                term = Term(canonical=canonical, group=group, stems=canonical_stems)
                self._terms[canonical] = term
                for alias in (canonical, *aliases):
                    self._add_phrase(alias, term)
        medication_words = {
            word: 1
            for phrase, term in self._aliases.items()
            if term.group == "medications"
            for word in phrase
            if len(word) >= 6 and word.isalpha()
        }
        self._medication_words = FuzzyMatcher(medication_words)

    def _add_phrase(self, alias: str, term: Term) -> None:
        alias_words = tuple(words(alias))
        key = tuple(stem(w) for w in alias_words)
        self._aliases[alias_words] = term
        if not key:
            raise LexiconError(f"{term.group}: {term.canonical}: alias {alias!r} has no words")
        existing = self._phrases.get(key)
        if existing is not None and existing != term:
            raise LexiconError(
                f"{term.group}: alias {alias!r} of {term.canonical!r} "
                f"is already an alias of {existing.canonical!r}"
            )
        self._phrases[key] = term
        self._longest = max(self._longest, len(key))

    @classmethod
    def from_data(cls, data: object) -> Lexicon:
        """Validate parsed YAML ({group: {canonical: [aliases]}}) and build a lexicon."""
        if not isinstance(data, dict):
            raise LexiconError("the file must be a mapping of groups")
        unknown = sorted(str(key) for key in data if key not in TERM_GROUPS)
        if unknown:
            raise LexiconError(
                f"unknown group(s) {', '.join(unknown)}; expected {', '.join(TERM_GROUPS)}"
            )
        entries: dict[TermGroup, dict[str, list[str]]] = {}
        for group in TERM_GROUPS:
            section = data.get(group) or {}
            if not isinstance(section, dict):
                raise LexiconError(f"{group}: must be a mapping of canonical term to aliases")
            checked: dict[str, list[str]] = {}
            for canonical, listed in section.items():
                if not isinstance(canonical, str) or not canonical.strip():
                    raise LexiconError(f"{group}: {canonical!r} is not a term")
                aliases = [] if listed is None else listed
                if not isinstance(aliases, list) or not all(
                    isinstance(alias, str) for alias in aliases
                ):
                    raise LexiconError(f"{group}: {canonical}: aliases must be a list of strings")
                checked[canonical] = aliases
            entries[group] = checked
        return cls(entries)

    def terms(self, group: TermGroup) -> frozenset[str]:
        """Return the canonical terms of one group."""
        return frozenset(t.canonical for t in self._terms.values() if t.group == group)

    def alias_words(self) -> set[str]:
        """Return every folded word that appears in an alias."""
        return {word for phrase in self._aliases for word in phrase}

    def analyse(self, text: str, correct: Corrector | None = None) -> list[Token]:
        """Split text into tokens, joining lexicon phrases (longest first) into one token.

        correct(word, stem) may replace the stem of a word it does not know (typo repair).
        """
        raw = words(text)
        stems = [stem(word) for word in raw]
        if correct is not None:
            stems = [correct(word, s) for word, s in zip(raw, stems, strict=True)]
        tokens: list[Token] = []
        i = 0
        while i < len(raw):
            for length in range(min(self._longest, len(raw) - i), 0, -1):
                term = self._phrases.get(tuple(stems[i : i + length]))
                if term is not None:
                    tokens.append(
                        Token(" ".join(raw[i : i + length]), tuple(stems[i : i + length]), term)
                    )
                    i += length
                    break
            else:
                tokens.append(Token(raw[i], (stems[i],), None))
                i += 1
        return tokens

    def correct_medication_word(self, word: str, word_stem: str) -> str:
        """Return the stem of the medication alias nearest to an unknown word, else word_stem."""
        if len(word) < 5 or word in STOPWORDS:
            return word_stem
        nearest = nearest_word(self._medication_words, word)
        return word_stem if nearest is None else stem(nearest)

    def medications_in(self, text: str) -> tuple[str, ...]:
        """Return the generic names mentioned in text, in order, each once."""
        found: list[str] = []
        for token in self.analyse(text, self.correct_medication_word):
            term = token.term
            if term is not None and term.group == "medications" and term.canonical not in found:
                found.append(term.canonical)
        return tuple(found)

    def normalise_medication(self, name: str) -> str | None:
        """Return the generic name of a medication as a prescriber typed it, or None."""
        found = self.medications_in(name)
        return found[0] if found else None
