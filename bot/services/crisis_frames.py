"""The crisis detector's data: phrase lists and frames kept in ``content/safety/``.

``crisis_phrases.yaml`` holds the phrase lists (per category and language), the shared pieces
they are written with, and the chat-word maps; :func:`load_lexicon` reads and checks it.
``crisis_frames.yaml`` holds the frames, ways of telling a crisis kept as data:

Each frame is a regular expression over the normalised text with a category, a tier and the
language of its answer. The file may name shared pieces of the detector's lexicon as
``<people>``, ``<personas>``, ``<someone>`` and ``<adv>``; :func:`load_frames` expands them and
compiles every frame once, so a broken pattern stops the bot at start-up with the file and the
pattern named, never at the moment a patient writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from bot import yamlfile
from bot.models import CrisisCategory
from bot.texts import content_root

__all__ = [
    "BUNDLED_FRAMES",
    "BUNDLED_PHRASES",
    "BUNDLED_SLOTS",
    "Frame",
    "FrameError",
    "MeaningRule",
    "SlotData",
    "expand_all",
    "expand_pieces",
    "load_frames",
    "load_lexicon",
    "load_slots",
]

# content/ in a checkout, bot/_content once installed from the wheel.
_SAFETY_CONTENT: Final = content_root() / "safety"
BUNDLED_FRAMES: Final = _SAFETY_CONTENT / "crisis_frames.yaml"
BUNDLED_PHRASES: Final = _SAFETY_CONTENT / "crisis_phrases.yaml"
BUNDLED_SLOTS: Final = _SAFETY_CONTENT / "crisis_slots.yaml"
_TIERS: Final = frozenset({"clear", "possible"})
_LOCALES: Final = frozenset({"en", "es"})
_PIECE: Final = re.compile(r"<([a-z_]+)>")


class FrameError(Exception):
    """The frames file is missing, malformed or has a pattern that does not compile."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One compiled group of patterns: what it means when any of them matches."""

    category: CrisisCategory
    tier: str  # "clear" | "possible"
    locale: str
    present: bool  # tells of something happening now, even inside a question
    pattern: re.Pattern[str]

    @property
    def reason(self) -> str:
        """Return the reason shown to a clinician, e.g. ``frame:overdose:es``."""
        return f"frame:{self.category}:{self.locale}"


def load_frames(path: Path, pieces: Mapping[str, str]) -> tuple[Frame, ...]:
    """Read, expand and compile the frames in ``path``."""
    try:
        data = yamlfile.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FrameError(f"{path}: {error}") from error
    entries = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise FrameError(f"{path}: expected a 'frames:' list")
    return tuple(_frame(entry, number, path, pieces) for number, entry in enumerate(entries, 1))


def _frame(entry: object, number: int, path: Path, pieces: Mapping[str, str]) -> Frame:
    where = f"{path}: frame {number}"
    if not isinstance(entry, dict):
        raise FrameError(f"{where}: expected a mapping")
    try:
        category = CrisisCategory(str(entry.get("category")))
    except ValueError:
        raise FrameError(f"{where}: unknown category {entry.get('category')!r}") from None
    tier, locale = entry.get("tier"), entry.get("locale")
    if tier not in _TIERS:
        raise FrameError(f"{where}: tier must be clear or possible, not {tier!r}")
    if locale not in _LOCALES:
        raise FrameError(f"{where}: locale must be en or es, not {locale!r}")
    patterns = entry.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        raise FrameError(f"{where}: expected a non-empty 'patterns:' list")
    expanded = [_expand(str(pattern), where, pieces) for pattern in patterns]
    for pattern in expanded:
        try:
            re.compile(pattern)
        except re.error as error:
            raise FrameError(f"{where}: {error} in {pattern!r}") from None
    compiled = re.compile(r"\b(?:" + "|".join(expanded) + r")\b", re.ASCII)
    return Frame(category, str(tier), str(locale), bool(entry.get("present", False)), compiled)


def _expand(pattern: str, where: str, pieces: Mapping[str, str]) -> str:
    def piece(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in pieces:
            raise FrameError(f"{where}: unknown piece <{name}>")
        return pieces[name]

    return _PIECE.sub(piece, pattern)


def load_lexicon(path: Path) -> dict[str, Any]:
    """Read the phrase lists, checking their shape; every pattern is compiled by the caller."""
    try:
        data = yamlfile.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FrameError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise FrameError(f"{path}: expected a mapping")
    for key in ("pieces", "word_map", "run_together"):
        table = data.get(key)
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise FrameError(f"{path}: {key!r} must map words to words")
    clear = data.get("clear")
    if not isinstance(clear, dict):
        raise FrameError(f"{path}: expected a 'clear:' mapping of categories")
    for category, by_locale in clear.items():
        try:
            CrisisCategory(category)
        except ValueError:
            raise FrameError(f"{path}: unknown category {category!r}") from None
        _check_lists(by_locale, f"{path}: clear.{category}")
    _check_lists(data.get("possible"), f"{path}: possible")
    return data


def _check_lists(by_locale: object, where: str) -> None:
    if not isinstance(by_locale, dict) or set(by_locale) != _LOCALES:
        raise FrameError(f"{where}: expected an 'en:' and an 'es:' list")
    for locale, patterns in by_locale.items():
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise FrameError(f"{where}.{locale}: expected a list of patterns")


def expand_pieces(pieces: Mapping[str, str]) -> dict[str, str]:
    """Expand each piece in order: a piece may use the pieces written above it."""
    expanded: dict[str, str] = {}
    for name, text in pieces.items():
        expanded[name] = _expand(text, f"piece <{name}>", expanded)
    return expanded


def expand_all(patterns: list[str], pieces: Mapping[str, str]) -> tuple[str, ...]:
    """Expand the pieces in a list of patterns and check that each one compiles."""
    out = []
    for pattern in patterns:
        text = _expand(pattern, "phrase", pieces)
        try:
            re.compile(text)
        except re.error as error:
            raise FrameError(f"phrase {pattern!r}: {error}") from None
        out.append(text)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class MeaningRule:
    """One meaning rule: its name (shown as ``rule:<name>``), what it raises, its pattern."""

    name: str
    category: CrisisCategory
    tier: str
    pattern: str


@dataclass(frozen=True, slots=True)
class SlotData:
    """The meaning slots, rules and markers, with every piece expanded."""

    pieces: dict[str, str]
    slots: dict[str, str]
    rules: tuple[MeaningRule, ...]
    markers: dict[str, str]


def load_slots(path: Path, pieces: Mapping[str, str]) -> SlotData:
    """Read the slots file; its patterns may use ``pieces`` and its own pieces."""
    try:
        data = yamlfile.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FrameError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise FrameError(f"{path}: expected a mapping")
    for key in ("pieces", "slots", "markers"):
        table = data.get(key)
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise FrameError(f"{path}: {key!r} must map names to patterns")
    expanded = dict(pieces)
    for name, text in data["pieces"].items():
        expanded[name] = _expand(text, f"{path}: piece <{name}>", expanded)
    slots = {
        name: _compiled(_expand(text, f"{path}: slot {name}", expanded), f"{path}: slot {name}")
        for name, text in data["slots"].items()
    }
    markers = {
        name: _compiled(_expand(text, f"{path}: {name}", expanded), f"{path}: {name}")
        for name, text in data["markers"].items()
    }
    rules = data.get("rules")
    if not isinstance(rules, list):
        raise FrameError(f"{path}: expected a 'rules:' list")
    return SlotData(
        pieces=expanded,
        slots=slots,
        rules=tuple(_rule(rule, path, expanded) for rule in rules),
        markers=markers,
    )


def _rule(entry: object, path: Path, pieces: Mapping[str, str]) -> MeaningRule:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise FrameError(f"{path}: every rule needs a name")
    where = f"{path}: rule {entry['name']}"
    try:
        category = CrisisCategory(str(entry.get("category")))
    except ValueError:
        raise FrameError(f"{where}: unknown category {entry.get('category')!r}") from None
    if entry.get("tier") not in _TIERS:
        raise FrameError(f"{where}: tier must be clear or possible")
    pattern = _compiled(_expand(str(entry.get("pattern", "")), where, pieces), where)
    return MeaningRule(entry["name"], category, str(entry["tier"]), pattern)


def _compiled(pattern: str, where: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise FrameError(f"{where}: {error}") from None
    return pattern
