"""The library's search index: BM25F over weighted fields, with typo repair and the lexicon.

Documents and queries go through the same normaliser and lexicon (``lexicon``), so a brand
name, slang or a misspelling in a question finds the article that uses the generic name.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.lexicon import (
    STOPWORDS,
    Corrector,
    FuzzyMatcher,
    Lexicon,
    nearest_word,
    stem,
    words,
)


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
