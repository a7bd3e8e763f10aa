"""Text normalisation, the medication lexicon, fuzzy word matching and the search index.

One normaliser serves every text feature: the library search, mapping prescriber-typed
medication names to generic names, and the medication-question guardrails. Text is lowercased,
stripped of accents, split into words and lightly stemmed; lexicon entries (brand names, slang,
misspellings, Spanish names) are recognised as phrases and mapped to a canonical term; unknown
words can be corrected to the nearest known word by edit distance.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
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


@dataclass(frozen=True, slots=True)
class Field:
    """A weighted text field of the search index: how much a match counts and length damping."""

    weight: float
    length_damping: float


FIELDS: Mapping[str, Field] = {
    "title": Field(weight=4.0, length_damping=0.5),
    "keywords": Field(weight=3.0, length_damping=0.3),
    "summary": Field(weight=2.0, length_damping=0.5),
    "body": Field(weight=1.0, length_damping=0.75),
}
SATURATION = 1.2
# A hit must score at least this multiple of the idf of a word found in just one article:
# roughly a title or keyword match, or a rare word in the body, but not one passing mention of
# a common word. Scaling with the idf keeps the cut-off meaningful for any number of articles.
MIN_SCORE_SHARE = 1.5


@dataclass(frozen=True, slots=True)
class ScoredDocument:
    """A document id and its relevance score for a query."""

    doc_id: str
    score: float


class SearchIndex:
    """A BM25F index over weighted fields, built once; queries are dictionary look-ups."""

    def __init__(
        self,
        documents: Mapping[str, Mapping[str, str]],
        lexicon: Lexicon,
        *,
        min_score_share: float = MIN_SCORE_SHARE,
        groups: Mapping[str, str] | None = None,
    ) -> None:
        """Index documents given as {doc_id: {field: text}} with fields from FIELDS.

        groups maps a document to its group (the language versions of one article), by
        default its own id: a group counts once in document frequencies, so a word is as
        telling with a translation as without, and a search returns each group once.
        """
        self._lexicon = lexicon
        self._doc_ids = list(documents)
        self._groups = [groups.get(d, d) if groups else d for d in self._doc_ids]
        total = len(set(self._groups))
        field_terms: dict[str, list[Counter[str]]] = {name: [] for name in FIELDS}
        document_frequency: Counter[str] = Counter()
        vocabulary: Counter[str] = Counter()
        for fields in documents.values():
            seen: set[str] = set()
            for name in FIELDS:
                text = fields.get(name, "")
                counts = Counter(self._terms(text, correct=None))
                field_terms[name].append(counts)
                seen.update(counts)
                vocabulary.update(words(text))
            document_frequency.update(seen)
        # Each field is scored as its own BM25 with its own document frequencies, so a word
        # that is common in bodies but rare in titles still marks the article it titles.
        weighted: dict[str, dict[int, float]] = {}
        for name, field in FIELDS.items():
            per_field = field_terms[name]
            in_groups = {
                (term, self._groups[index])
                for index, counts in enumerate(per_field)
                for term in counts
            }
            field_frequency = Counter(term for term, _ in in_groups)
            average = max(1.0, sum(c.total() for c in per_field) / max(len(per_field), 1))
            damping = field.length_damping
            for index, counts in enumerate(per_field):
                norm = 1.0 - damping + damping * counts.total() / average
                for term, occurrences in counts.items():
                    frequency = field_frequency[term]
                    idf = math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))
                    saturated = occurrences * (SATURATION + 1.0) / (occurrences + SATURATION * norm)
                    per_doc = weighted.setdefault(term, {})
                    per_doc[index] = per_doc.get(index, 0.0) + field.weight * idf * saturated
        self._postings: dict[str, list[tuple[int, float]]] = {
            term: list(per_doc.items()) for term, per_doc in weighted.items()
        }
        self._min_score = min_score_share * math.log(1.0 + (total - 0.5) / 1.5)
        self._stems = set(document_frequency)
        for word in lexicon.alias_words():
            vocabulary[word] += 1
        self._fuzzy = FuzzyMatcher(
            {
                word: count
                for word, count in vocabulary.items()
                if word.isalpha() and word not in STOPWORDS
            }
        )

    @property
    def min_score(self) -> float:
        """Return the score below which a document is not returned."""
        return self._min_score

    def _correct(self, word: str, word_stem: str) -> str:
        if word in STOPWORDS or word in self._fuzzy or word_stem in self._stems:
            return word_stem
        nearest = nearest_word(self._fuzzy, word)
        return word_stem if nearest is None else stem(nearest)

    def _terms(self, text: str, correct: Corrector | None) -> list[str]:
        terms: list[str] = []
        for token in self._lexicon.analyse(text, correct):
            if token.term is not None:
                own = [
                    s
                    for s, word in zip(token.stems, token.text.split(), strict=True)
                    if word not in STOPWORDS
                ]
                terms.extend(own)
                terms.extend(s for s in token.term.stems if s not in own)
            elif not token.is_stopword:
                terms.extend(token.stems)
        return terms

    def query_terms(self, query: str) -> list[str]:
        """Return the index terms a query is reduced to (after typo repair and the lexicon)."""
        return list(dict.fromkeys(self._terms(query, self._correct)))

    def search(self, query: str, limit: int = 3) -> list[ScoredDocument]:
        """Return up to limit documents scoring at least the minimum, best first.

        A group is returned once, by its best-scoring document.
        """
        scores: dict[int, float] = {}
        for term in self.query_terms(query):
            for index, value in self._postings.get(term, ()):
                scores[index] = scores.get(index, 0.0) + value
        ranked = sorted(
            (item for item in scores.items() if item[1] >= self._min_score),
            key=lambda item: (-item[1], self._doc_ids[item[0]]),
        )
        found: dict[str, ScoredDocument] = {}
        for index, score in ranked:
            if len(found) == limit:
                break
            found.setdefault(
                self._groups[index], ScoredDocument(self._doc_ids[index], round(score, 4))
            )
        return list(found.values())
