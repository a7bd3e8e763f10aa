"""The guardrails' phrase lists kept as data: they load as the code wrote them, and fail loudly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.services.guardrail_phrases import BUNDLED_PHRASES, PhraseError, load_phrases

# Each pattern as bot/services/guardrails.py compiled it before the lists moved to
# content/guardrails/: the first 16 hex digits of the SHA-256 of its source. A deliberate
# change to a pattern changes its digest here too, in the same commit.
PATTERN_DIGESTS = {
    "frame": "f09d671b4eff548f",
    "bare_pair": "4cb747485c2de26d",
    "first_person": "988bfef1b4fe63d5",
    "educational": "fe9bf87820061503",
    "why": "51036dc5a327f38e",
    "mix_explicit": "7e9f748b4671bbc5",
    "mix_word": "64e046c421cfa5be",
    "quit_substance": "e8f1b95e7e01a303",
    "stop": "ee98302352043aaa",
    "stop_wanting": "7c18740e692fef18",
    "start": "0bc87132315c15b4",
    "dose": "9829db311c102589",
    "dose_word": "25394f300dba4072",
    "consume": "b6c248740642c41d",
    "not_prescribed": "e568d0969fdb6c9d",
    "take_number": "4265790812b12ea4",
    "too_much": "fb5e8e67aaa6f07a",
    "not_too_much": "7884ebebe62d8f92",
    "dose_words": "21abd3ddbbe90c18",
    "dose_went_up": "0242bb71a6cc8453",
    "generic_question": "3dc6069b8d59c752",
    "someone": "3b66eaddb6cc5db2",
    "naloxone_action": "98c8634801cfe265",
    "overdose_signs": "c960b5ce67fe5858",
    "respond_to_overdose": "0eb743bc00b92f5e",
    "spray_again": "8926fea8b36c3c52",
    "missed_hypothetical": "5dfd55cbae105418",
    "missed_told": "cc974b920ee425a6",
    "decision_in_missed": "d8f23a06f58ebaaa",
}
TERMS = {
    "prescription_substances": {"opioid", "sedative", "stimulant"},
    "opioid_medicines": {"methadone", "buprenorphine"},
    "sedating_medicines": {"benzodiazepine", "gabapentin"},
    "reversers": {"naloxone", "nalmefene"},
    "overdose_terms": {"overdose"},
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "phrases.yaml"
    path.write_text(text, "utf-8")
    return path


def test_the_shipped_phrases_are_the_patterns_the_code_had() -> None:
    """Every pattern and term set in content/ is, to the byte, what guardrails.py compiled."""
    phrases = load_phrases(BUNDLED_PHRASES)
    digests = {
        name: hashlib.sha256(pattern.pattern.encode()).hexdigest()[:16]
        for name, pattern in phrases.patterns.items()
    }
    assert digests == PATTERN_DIGESTS
    assert dict(phrases.term_sets) == TERMS


def test_pieces_and_alternatives_are_written_out(tmp_path: Path) -> None:
    """A piece may use the pieces above it; an ``any:`` part is a group of alternatives."""
    text = """
pieces:
  med:
    - any: ['pills?', 'MED']
  my_med: 'my <med>'
patterns:
  taken:
    - '\\btook '
    - '<my_med>'
    - any: ['today', '<med>']
terms:
  reversers: ['naloxone']
"""
    phrases = load_phrases(_write(tmp_path, text))
    assert phrases.pattern("taken").pattern == r"\btook my (?:pills?|MED)(?:today|(?:pills?|MED))"
    assert phrases.terms("reversers") == frozenset({"naloxone"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "expected a mapping"),
        ("pieces: {}\npatterns: {}", "'terms:'"),
        ("pieces: {}\npatterns: {a: '(x'}\nterms: {}", "pattern a: missing"),
        ("pieces: {}\npatterns: {a: 'x <nobody>'}\nterms: {}", "pattern a: unknown piece <nobody>"),
        ("pieces: {p: [{any: []}]}\npatterns: {}\nterms: {}", "piece p: a part must be"),
        ("pieces: {}\npatterns: {}\nterms: {t: naloxone}", "terms t: expected a list"),
    ],
)
def test_a_broken_phrases_file_is_named_at_load(tmp_path: Path, text: str, problem: str) -> None:
    """A malformed file or pattern stops start-up with the file and the entry named."""
    path = _write(tmp_path, text)
    with pytest.raises(PhraseError, match=problem.replace("(", r"\(")) as caught:
        load_phrases(path)
    assert str(path) in str(caught.value)


def test_a_pattern_the_code_needs_but_the_file_lacks_is_named(tmp_path: Path) -> None:
    """Asking for a pattern or terms the file does not define names the file, not a KeyError."""
    phrases = load_phrases(_write(tmp_path, "pieces: {}\npatterns: {}\nterms: {}"))
    with pytest.raises(PhraseError, match="no pattern 'frame'"):
        phrases.pattern("frame")
    with pytest.raises(PhraseError, match="no terms 'reversers'"):
        phrases.terms("reversers")
