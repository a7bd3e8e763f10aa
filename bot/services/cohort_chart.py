"""The cohort chart: one row per patient with craving, mood, adherence and check-ins done.

Every visible word comes from a ``labels`` mapping (``COHORT_LABEL_KEYS``). Flagged patients
lead, on a tinted band, and at most ``COHORT_MAX_ROWS`` rows are drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from matplotlib.transforms import blended_transform_factory

from bot.models import CohortPoint
from bot.services.chart_drawing import (
    BLUE,
    GREEN,
    INK,
    MUTED,
    ORANGE,
    PURPLE,
    TRACK,
    VERMILLION,
    Panel,
    checked_labels,
    draw_legend,
    fill,
    new_figure,
    png,
    write,
)

# "{n}" in the "more" note is replaced literally (not with str.format), so a stray brace in a
# translation can never break the chart.
COHORT_LABEL_KEYS: tuple[str, ...] = (
    "chart.cohort.title",
    "chart.craving",
    "chart.mood",
    "chart.cohort.adherence",
    "chart.cohort.checkins",
    "chart.cohort.flagged",
    "chart.cohort.more",
    "chart.cohort.empty",
)

# More rows than this would make the chart taller than a phone screen can show legibly.
COHORT_MAX_ROWS = 40

_FLAG_BAND = "#FBE3D0"
_DASH = "\u2013"
_COHORT_WIDTH = 10.0

# The cohort chart: columns one data unit wide, each a bar track and the value written after.
_TRACK_WIDTH = 0.68
_ROW_BAR = 0.62

_FLAGGED_KEY: Mapping[str, Any] = MappingProxyType(
    {"facecolor": _FLAG_BAND, "edgecolor": VERMILLION, "linewidth": 1.0}
)


def render_cohort_chart(points: Sequence[CohortPoint], labels: Mapping[str, str]) -> bytes:
    """Return a PNG with one row per patient: craving, mood, adherence and check-ins done."""
    text = checked_labels(labels, COHORT_LABEL_KEYS)
    if not points:
        figure, canvas = new_figure((_COHORT_WIDTH, 2.0))
        write(figure, 0.02, 0.9, text["chart.cohort.title"], size=14, weight="bold", va="top")
        write(figure, 0.5, 0.4, text["chart.cohort.empty"], size=12, color=MUTED, ha="center")
        return png(canvas)

    # Flagged patients lead; otherwise the caller's order stands (a stable partition).
    ordered = [p for p in points if p.flagged] + [p for p in points if not p.flagged]
    shown = ordered[:COHORT_MAX_ROWS]
    hidden = len(ordered) - len(shown)
    rows = len(shown)

    # Row height is fixed in inches, so the chart grows with the group instead of squeezing it.
    row_inches = 0.24 if rows <= 20 else 0.2
    header, footer = 1.3, 0.6
    height = max(header + footer + rows * row_inches, 2.4)
    figure, canvas = new_figure((_COHORT_WIDTH, height))
    top = 1.0 - header / height
    bottom = top - rows * row_inches / height
    left, right = 0.13, 0.98
    panel = Panel.place(figure, (left, bottom, right, top), (0, rows - 0.5, 4, -0.5))

    write(
        figure,
        0.02,
        1.0 - 0.2 / height,
        text["chart.cohort.title"],
        size=14,
        weight="bold",
        va="top",
    )
    flagged = [row for row, p in enumerate(shown) if p.flagged]
    if flagged:
        panel.boxes(
            [(-0.14, row - 0.5, 1.14, 1.0) for row in flagged],
            across=True,
            facecolors=_FLAG_BAND,
            zorder=0,
        )
        if len(flagged) < rows:
            edge = len(flagged) - 0.5
            panel.lines(
                [[(-0.14, edge), (1.0, edge)]], across=True, colors=VERMILLION, linewidths=1.0
            )
    for row, point in enumerate(shown):
        panel.text(
            -0.012,
            row,
            point.label,
            size=9,
            ha="right",
            across=True,
            weight="bold" if point.flagged else "normal",
            color=VERMILLION if point.flagged else INK,
        )

    heading = blended_transform_factory(panel.data, figure.transFigure)
    header_y = top + 0.62 / height
    scale_y = top + 0.24 / height
    columns: Sequence[tuple[str, list[float | None], float, str, str]] = (
        (text["chart.craving"], [p.craving_mean for p in shown], 10.0, ORANGE, "score"),
        (text["chart.mood"], [p.mood_mean for p in shown], 10.0, BLUE, "score"),
        (
            text["chart.cohort.adherence"],
            [None if p.adherence is None else 100.0 * p.adherence for p in shown],
            100.0,
            GREEN,
            "percent",
        ),
    )
    for column, (title, values, scale, colour, kind) in enumerate(columns):
        shares = [None if v is None else min(max(v / scale, 0.0), 1.0) for v in values]
        _draw_cohort_column(panel, column, shares, [_number(v, kind) for v in values], colour)
        write(
            figure,
            column + _TRACK_WIDTH / 2,
            header_y,
            title,
            size=10,
            weight="bold",
            ha="center",
            transform=heading,
        )
        for share in (0.0, 0.5, 1.0):
            write(
                figure,
                column + share * _TRACK_WIDTH,
                scale_y,
                _number(share * scale, kind, whole=True),
                size=8,
                color=MUTED,
                ha="center",
                transform=heading,
            )

    done: list[float | None] = [
        min(p.checkins_done / p.checkins_expected, 1.0) if p.checkins_expected else 0.0
        for p in shown
    ]
    written = [f"{p.checkins_done}/{p.checkins_expected}" for p in shown]
    _draw_cohort_column(panel, 3, done, written, PURPLE)
    write(
        figure,
        3 + _TRACK_WIDTH / 2,
        header_y,
        text["chart.cohort.checkins"],
        size=10,
        weight="bold",
        ha="center",
        transform=heading,
    )

    footer_y = bottom - 0.4 / height
    if flagged:
        draw_legend(
            figure, left, footer_y, [(text["chart.cohort.flagged"], "box", _FLAGGED_KEY)], bold=True
        )
    if hidden:
        write(
            figure,
            right,
            footer_y,
            fill(text["chart.cohort.more"], n=hidden),
            size=10,
            color=MUTED,
            ha="right",
        )
    return png(canvas)


def _draw_cohort_column(
    panel: Panel,
    column: int,
    shares: Sequence[float | None],
    written: Sequence[str],
    colour: str,
) -> None:
    """Draw one column: a grey track per row, a bar to the row's share and its value in words."""
    half = _ROW_BAR / 2
    panel.boxes(
        [(column, row - half, _TRACK_WIDTH, _ROW_BAR) for row in range(len(shares))],
        facecolors=TRACK,
        zorder=1,
    )
    panel.boxes(
        [
            (column, row - half, share * _TRACK_WIDTH, _ROW_BAR)
            for row, share in enumerate(shares)
            if share
        ],
        facecolors=colour,
        zorder=2,
    )
    # A white rule at half scale lets a long column be read without the header in view.
    middle = column + _TRACK_WIDTH / 2
    panel.lines(
        [[(middle, -0.5), (middle, len(shares) - 0.5)]], colors="white", linewidths=0.8, zorder=1.5
    )
    for row, (share, words) in enumerate(zip(shares, written, strict=True)):
        panel.text(
            column + _TRACK_WIDTH + 0.03,
            row,
            words,
            size=8.5,
            color=MUTED if share is None else INK,
        )


def _number(value: float | None, kind: str, *, whole: bool = False) -> str:
    """Write a 0-10 mean with one decimal or a percentage without; a dash when absent."""
    if value is None:
        return _DASH
    if kind == "percent":
        return f"{value:.0f}%"
    return f"{value:.0f}" if whole else f"{value:.1f}"
