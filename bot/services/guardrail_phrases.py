"""The medication guardrails' data: phrase lists kept in ``content/guardrails/``.

``guardrail_phrases.yaml`` holds the shared pieces, the patterns and the lexicon terms that
``bot/services/guardrails.py`` reads. :func:`load_phrases` reads it, expands every ``<piece>``
and compiles each pattern once, so a broken pattern stops the bot at start-up with the file and
the pattern named, never at the moment a patient writes.

A piece or a pattern is written as a string, or as a list of parts set end to end; a part
``{any: [...]}`` is one of its alternatives, ``(?:first|second|...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from bot import yamlfile
from bot.texts import content_root

__all__ = ["BUNDLED_PHRASES", "GuardrailPhrases", "PhraseError", "load_phrases"]

BUNDLED_PHRASES: Final = content_root() / "guardrails" / "guardrail_phrases.yaml"
_PIECE: Final = re.compile(r"<([a-z_]+)>")


class PhraseError(Exception):
    """The phrases file is missing, malformed or has a pattern that does not compile."""


@dataclass(frozen=True, slots=True)
class GuardrailPhrases:
    """The compiled patterns and the term sets of one phrases file."""

    path: Path
    patterns: Mapping[str, re.Pattern[str]]
    term_sets: Mapping[str, frozenset[str]]

    def pattern(self, name: str) -> re.Pattern[str]:
        """Return a compiled pattern; raise PhraseError naming the file if it has none."""
        if name not in self.patterns:
            raise PhraseError(f"{self.path}: no pattern {name!r}")
        return self.patterns[name]

    def terms(self, name: str) -> frozenset[str]:
        """Return a set of lexicon terms; raise PhraseError naming the file if it has none."""
        if name not in self.term_sets:
            raise PhraseError(f"{self.path}: no terms {name!r}")
        return self.term_sets[name]


def load_phrases(path: Path) -> GuardrailPhrases:
    """Read the phrases file, expand its pieces and compile every pattern."""
    try:
        data = yamlfile.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PhraseError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise PhraseError(f"{path}: expected a mapping")
    for key in ("pieces", "patterns", "terms"):
        if not isinstance(data.get(key), dict):
            raise PhraseError(f"{path}: expected a '{key}:' mapping")
    pieces: dict[str, str] = {}
    for name, value in data["pieces"].items():
        pieces[str(name)] = _written(value, f"{path}: piece {name}", pieces)
    patterns: dict[str, re.Pattern[str]] = {}
    for name, value in data["patterns"].items():
        where = f"{path}: pattern {name}"
        text = _written(value, where, pieces)
        try:
            patterns[str(name)] = re.compile(text)
        except re.error as error:
            raise PhraseError(f"{where}: {error}") from None
    terms: dict[str, frozenset[str]] = {}
    for name, value in data["terms"].items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PhraseError(f"{path}: terms {name}: expected a list of words")
        terms[str(name)] = frozenset(value)
    return GuardrailPhrases(path, patterns, terms)


def _written(value: object, where: str, pieces: Mapping[str, str]) -> str:
    """Return a piece or a pattern as one string: its parts end to end, pieces expanded."""
    written: list[str] = []
    for part in value if isinstance(value, list) else [value]:
        if isinstance(part, str):
            written.append(_expand(part, where, pieces))
            continue
        options = part.get("any") if isinstance(part, dict) and len(part) == 1 else None
        if not isinstance(options, list) or not options:
            raise PhraseError(f"{where}: a part must be a string or an 'any:' list")
        if not all(isinstance(option, str) for option in options):
            raise PhraseError(f"{where}: every 'any:' alternative must be a string")
        written.append("(?:" + "|".join(_expand(o, where, pieces) for o in options) + ")")
    return "".join(written)


def _expand(text: str, where: str, pieces: Mapping[str, str]) -> str:
    def piece(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in pieces:
            raise PhraseError(f"{where}: unknown piece <{name}>")
        return pieces[name]

    return _PIECE.sub(piece, text)
