"""Crisis frames: ways of telling a crisis kept as data in ``content/safety/crisis_frames.yaml``.

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
from typing import Final

import yaml

from bot.models import CrisisCategory

__all__ = ["BUNDLED_FRAMES", "Frame", "FrameError", "load_frames"]

BUNDLED_FRAMES: Final = (
    Path(__file__).resolve().parents[2] / "content" / "safety" / "crisis_frames.yaml"
)
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
        data = yaml.safe_load(path.read_text("utf-8"))
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
