"""PNG charts for clinicians: one patient's 28-day trend and a group's week at a glance.

Every visible word comes from a ``labels`` mapping that the caller renders from the locale's
templates (``CHART_LABEL_KEYS`` lists the keys read), so this module holds no text of its own.
Drawing uses matplotlib's object API only (``Figure`` with an Agg canvas, never ``pyplot``) and
keeps no state between calls, so a chart can be rendered in a thread off the event loop or in a
worker process; ``render_many`` renders a batch in one call so a pool pays one round trip for it.

Charts are drawn straight onto the figure through fixed transforms, without Axes, ticks or
Legend: those lay themselves out on every draw and cost several times what the marks, lines
and words of a chart cost. The layout is fixed, so nothing needs measuring.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import (
    Bbox,
    BboxTransformFrom,
    BboxTransformTo,
    Transform,
    blended_transform_factory,
)

from bot.models import CohortPoint, DayTrend, PatientTrend

# Label keys -----------------------------------------------------------------------------------

# Placeholders are replaced literally (not with str.format), so a stray brace in a translation
# can never break a chart: "{label}" in the patient title, "{month}" and "{day}" in the date
# pattern, "{n}" in the cohort's "more" note. ``chart.months`` holds twelve space-separated
# abbreviated month names, January first.
PATIENT_LABEL_KEYS: tuple[str, ...] = (
    "chart.patient.title",
    "chart.patient.score_axis",
    "chart.patient.doses_axis",
    "chart.patient.dtms_axis",
    "chart.patient.no_data",
    "chart.craving",
    "chart.mood",
    "chart.use",
    "chart.doses.taken",
    "chart.doses.none",
    "chart.dtms.attended",
    "chart.dtms.missed",
    "chart.dtms.reschedule",
    "chart.dtms.confirmed",
    "chart.dtms.scheduled",
    "chart.months",
    "chart.date",
)
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
CHART_LABEL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(PATIENT_LABEL_KEYS + COHORT_LABEL_KEYS))

DTMS_STATUSES: tuple[str, ...] = ("attended", "missed", "reschedule", "confirmed", "scheduled")

# More rows than this would make the chart taller than a phone screen can show legibly.
COHORT_MAX_ROWS = 40

# Look -----------------------------------------------------------------------------------------

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. Every series
# also differs by line style or marker shape, so a grey printout still tells them apart.
_ORANGE = "#E69F00"
_GREEN = "#009E73"
_BLUE = "#0072B2"
_VERMILLION = "#D55E00"
_PURPLE = "#CC79A7"
_INK = "#222222"
_MUTED = "#6B6B6B"
_RULE = "#BBBBBB"
_TRACK = "#ECECEC"
_USE_BAND = "#D55E0050"
_USE_COLUMN = "#D55E0012"
_FLAG_BAND = "#FBE3D0"
_DASH = "\u2013"

# Named explicitly so a changed rcParams default can never swap in a font lacking accents.
_FONT = "DejaVu Sans"
_DPI = 100
_PATIENT_SIZE = (10.0, 5.6)  # inches at _DPI: 1000 x 560 px
_PATIENT_LEFT, _PATIENT_RIGHT = 0.085, 0.775  # the drawing area; the key sits to its right
_COHORT_WIDTH = 10.0
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Level 6 (zlib's default) takes twice as long for about a fifth fewer bytes (~65 kB a chart).
_ZLIB_LEVEL = 1

# FigureCanvasAgg's drawing and blitting methods carry no annotations upstream.
_Canvas = Any
# A rendered patient backdrop, kept as Agg's pixel copy (its class is not public API).
_Backdrop = Any

# The patient chart's one drawing area, in data units: x is the day index, y puts the 0-10
# score scale in the middle, reported use in a band above it and two strips below it.
_Y_BOTTOM = -5.0
_USE_LOW, _USE_HIGH = 10.7, 12.0
_DOSES_BASE, _DOSES_FULL = -3.25, 2.0
_DTMS_Y = -4.3
_SEPARATORS = (-0.9, -3.6)

# The cohort chart: columns one data unit wide, each a bar track and the value written after.
_TRACK_WIDTH = 0.68
_ROW_BAR = 0.62


def _line_style(colour: str, style: str, marker: str) -> Mapping[str, Any]:
    """Return the style of a score line with markers."""
    return MappingProxyType(
        {
            "color": colour,
            "linestyle": style,
            "linewidth": 2.0,
            "marker": marker,
            "markersize": 5.5,
            "markerfacecolor": colour,
            "markeredgecolor": "white",
            "markeredgewidth": 0.8,
            "zorder": 4,
        }
    )


def _marker_style(marker: str, face: str, edge: str, size: float) -> Mapping[str, Any]:
    """Return the style of a row of markers without a line."""
    return MappingProxyType(
        {
            "linestyle": "none",
            "marker": marker,
            "markersize": size,
            "markerfacecolor": face,
            "markeredgecolor": edge,
            "markeredgewidth": 1.8 if marker == "x" else 1.0,
            "color": edge,
            "zorder": 4,
        }
    )


_CRAVING_LINE = _line_style(_ORANGE, "-", "o")
_MOOD_LINE = _line_style(_BLUE, "--", "s")
_USE_MARKER = _marker_style("v", _VERMILLION, _INK, 8.5)
_NONE_TAKEN_MARKER = _marker_style("x", _VERMILLION, _VERMILLION, 7.0)
_DAY_TICK = _marker_style("|", _MUTED, _MUTED, 4.0)
_DATE_TICK = _marker_style("|", _MUTED, _MUTED, 9.0)
# Filled shapes are outcomes; the hollow triangle is a session ahead with no answer yet.
_DTMS_MARKERS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "attended": _marker_style("o", _GREEN, _GREEN, 8.0),
        "missed": _marker_style("X", _VERMILLION, _VERMILLION, 9.0),
        "reschedule": _marker_style("D", _ORANGE, _INK, 7.0),
        "confirmed": _marker_style("^", _BLUE, _BLUE, 8.5),
        "scheduled": _marker_style("^", "white", _BLUE, 8.5),
    }
)
_DOSE_BOX: Mapping[str, Any] = MappingProxyType(
    {"facecolors": "#009E7373", "edgecolors": _GREEN, "linewidths": 0.8}
)
_DOSE_KEY: Mapping[str, Any] = MappingProxyType(
    {"facecolor": "#009E7373", "edgecolor": _GREEN, "linewidth": 0.8}
)
_FLAGGED_KEY: Mapping[str, Any] = MappingProxyType(
    {"facecolor": _FLAG_BAND, "edgecolor": _VERMILLION, "linewidth": 1.0}
)


# Public API -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartJob:
    """One chart to render in a batch; picklable when its labels are a plain dict."""

    kind: Literal["patient", "cohort"]
    payload: PatientTrend | Sequence[CohortPoint]
    labels: Mapping[str, str]

    def __post_init__(self) -> None:
        """Reject a payload that does not match the kind before it travels to a worker."""
        if (self.kind == "patient") != isinstance(self.payload, PatientTrend):
            message = f"chart job of kind {self.kind!r} got a {type(self.payload).__name__}"
            raise TypeError(message)

    @classmethod
    def patient(cls, trend: PatientTrend, labels: Mapping[str, str]) -> ChartJob:
        """Return a job for one patient's trend chart."""
        return cls("patient", trend, labels)

    @classmethod
    def cohort(cls, points: Sequence[CohortPoint], labels: Mapping[str, str]) -> ChartJob:
        """Return a job for a group overview chart."""
        return cls("cohort", tuple(points), labels)


def render_many(jobs: Sequence[ChartJob]) -> list[bytes]:
    """Render the jobs in order in this process and return their PNGs.

    Patient charts that share labels and dates (a digest's charts do) are drawn over one
    rendering of their common frame, scale, dates and key, so a batch costs far less per chart
    than single calls.
    """
    backdrops: dict[Hashable, _Backdrop] = {}
    rendered: list[bytes] = []
    for job in jobs:
        if isinstance(job.payload, PatientTrend):
            rendered.append(_render_patient(job.payload, job.labels, backdrops))
        else:
            rendered.append(render_cohort_chart(job.payload, job.labels))
    return rendered


def render_patient_chart(trend: PatientTrend, labels: Mapping[str, str]) -> bytes:
    """Return a PNG of a patient's daily craving, mood, use, dose adherence and dTMS sessions."""
    return _render_patient(trend, labels, {})


def _render_patient(
    trend: PatientTrend, labels: Mapping[str, str], backdrops: dict[Hashable, _Backdrop]
) -> bytes:
    """Draw the patient's marks and title over the backdrop for its labels and dates."""
    text = _checked(labels, PATIENT_LABEL_KEYS)
    days = trend.days
    positions = [(d.day - days[0].day).days for d in days]
    span = positions[-1] + 1 if positions else 28
    key = (tuple(text[k] for k in PATIENT_LABEL_KEYS), tuple(d.day for d in days))
    backdrop = backdrops.get(key)
    if backdrop is None:
        backdrop = backdrops[key] = _patient_backdrop(days, positions, span, text)

    figure, canvas = _figure(_PATIENT_SIZE)
    panel = _patient_panel(figure, span)
    _draw_use(panel, days, positions)
    _draw_scores(panel, days, positions)
    _draw_doses(panel, days, positions)
    _draw_dtms(panel, days, positions)
    if not any(d.craving is not None or d.mood is not None or d.used is not None for d in days):
        panel.text(
            (span - 1) / 2,
            5,
            text["chart.patient.no_data"],
            size=12,
            color=_MUTED,
            ha="center",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 4},
        )
    title = _fill(text["chart.patient.title"], label=trend.label)
    _write(figure, _PATIENT_LEFT, 0.935, title, size=14, weight="bold", va="bottom")

    # Only this patient's artists are drawn; the backdrop supplies everything else.
    canvas.restore_region(backdrop)
    renderer = canvas.get_renderer()
    for artist in sorted(figure.get_children()[1:], key=lambda artist: artist.get_zorder()):
        artist.draw(renderer)
    return _encode_png(canvas)


def _patient_backdrop(
    days: Sequence[DayTrend], positions: Sequence[int], span: int, text: Mapping[str, str]
) -> _Backdrop:
    """Render what every patient with these labels and dates shares: frame, scale, dates, key."""
    figure, canvas = _figure(_PATIENT_SIZE)
    panel = _patient_panel(figure, span)
    _draw_patient_frame(panel, span, text)
    _draw_days(panel, days, positions, text, _month_names(text))
    _draw_legend(figure, _PATIENT_RIGHT + 0.02, 0.88, _patient_legend(text))
    canvas.draw()
    return canvas.copy_from_bbox(figure.bbox)


def _patient_panel(figure: Figure, span: int) -> _Panel:
    """Return the patient chart's drawing area for ``span`` days."""
    box = (_PATIENT_LEFT, 0.1, _PATIENT_RIGHT, 0.9)
    return _Panel.place(figure, box, (-0.5, _Y_BOTTOM, span - 0.5, _USE_HIGH))


def render_cohort_chart(points: Sequence[CohortPoint], labels: Mapping[str, str]) -> bytes:
    """Return a PNG with one row per patient: craving, mood, adherence and check-ins done."""
    text = _checked(labels, COHORT_LABEL_KEYS)
    if not points:
        figure, canvas = _figure((_COHORT_WIDTH, 2.0))
        _write(figure, 0.02, 0.9, text["chart.cohort.title"], size=14, weight="bold", va="top")
        _write(figure, 0.5, 0.4, text["chart.cohort.empty"], size=12, color=_MUTED, ha="center")
        return _png(canvas)

    # Flagged patients lead; otherwise the caller's order stands (a stable partition).
    ordered = [p for p in points if p.flagged] + [p for p in points if not p.flagged]
    shown = ordered[:COHORT_MAX_ROWS]
    hidden = len(ordered) - len(shown)
    rows = len(shown)

    # Row height is fixed in inches, so the chart grows with the group instead of squeezing it.
    row_inches = 0.24 if rows <= 20 else 0.2
    header, footer = 1.3, 0.6
    height = max(header + footer + rows * row_inches, 2.4)
    figure, canvas = _figure((_COHORT_WIDTH, height))
    top = 1.0 - header / height
    bottom = top - rows * row_inches / height
    left, right = 0.13, 0.98
    panel = _Panel.place(figure, (left, bottom, right, top), (0, rows - 0.5, 4, -0.5))

    _write(
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
                [[(-0.14, edge), (1.0, edge)]], across=True, colors=_VERMILLION, linewidths=1.0
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
            color=_VERMILLION if point.flagged else _INK,
        )

    heading = blended_transform_factory(panel.data, figure.transFigure)
    header_y = top + 0.62 / height
    scale_y = top + 0.24 / height
    columns: Sequence[tuple[str, list[float | None], float, str, str]] = (
        (text["chart.craving"], [p.craving_mean for p in shown], 10.0, _ORANGE, "score"),
        (text["chart.mood"], [p.mood_mean for p in shown], 10.0, _BLUE, "score"),
        (
            text["chart.cohort.adherence"],
            [None if p.adherence is None else 100.0 * p.adherence for p in shown],
            100.0,
            _GREEN,
            "percent",
        ),
    )
    for column, (title, values, scale, colour, kind) in enumerate(columns):
        shares = [None if v is None else min(max(v / scale, 0.0), 1.0) for v in values]
        _draw_cohort_column(panel, column, shares, [_number(v, kind) for v in values], colour)
        _write(
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
            _write(
                figure,
                column + share * _TRACK_WIDTH,
                scale_y,
                _number(share * scale, kind, whole=True),
                size=8,
                color=_MUTED,
                ha="center",
                transform=heading,
            )

    done: list[float | None] = [
        min(p.checkins_done / p.checkins_expected, 1.0) if p.checkins_expected else 0.0
        for p in shown
    ]
    written = [f"{p.checkins_done}/{p.checkins_expected}" for p in shown]
    _draw_cohort_column(panel, 3, done, written, _PURPLE)
    _write(
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
        _draw_legend(
            figure, left, footer_y, [(text["chart.cohort.flagged"], "box", _FLAGGED_KEY)], bold=True
        )
    if hidden:
        _write(
            figure,
            right,
            footer_y,
            _fill(text["chart.cohort.more"], n=hidden),
            size=10,
            color=_MUTED,
            ha="right",
        )
    return _png(canvas)


# Drawing without an Axes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Panel:
    """A rectangle of a figure with its own data coordinates, drawn on without an Axes.

    ``across`` places x in fractions of the panel's width (so text sits left of the panel at
    negative x) with y in data units; ``down`` does the same for y, for labels under it.
    """

    figure: Figure
    data: Transform
    across: Transform
    down: Transform

    @classmethod
    def place(
        cls,
        figure: Figure,
        box: tuple[float, float, float, float],
        limits: tuple[float, float, float, float],
    ) -> _Panel:
        """Return the panel at ``box`` (figure fractions) showing data ``limits`` (l, b, r, t)."""
        area = BboxTransformTo(Bbox.from_extents(*box)) + figure.transFigure
        data = BboxTransformFrom(Bbox.from_extents(*limits)) + area
        return cls(
            figure,
            data,
            blended_transform_factory(area, data),
            blended_transform_factory(data, area),
        )

    def _transform(self, *, across: bool = False, down: bool = False) -> Transform:
        """Return the transform for the chosen mix of panel fractions and data units."""
        return self.across if across else self.down if down else self.data

    def text(
        self,
        x: float,
        y: float,
        words: str,
        *,
        across: bool = False,
        down: bool = False,
        **style: Any,
    ) -> None:
        """Place text at a point of the panel."""
        _write(
            self.figure, x, y, words, transform=self._transform(across=across, down=down), **style
        )

    def series(self, xs: Sequence[float], ys: Sequence[float], style: Mapping[str, Any]) -> None:
        """Draw a line or a row of markers through the points."""
        self.figure.add_artist(Line2D(xs, ys, transform=self.data, **style))

    def lines(
        self,
        segments: Sequence[Sequence[tuple[float, float]]],
        *,
        across: bool = False,
        **style: Any,
    ) -> None:
        """Draw straight segments as one collection."""
        collection = LineCollection(segments, transform=self._transform(across=across), **style)
        self.figure.add_artist(collection)

    def boxes(
        self,
        boxes: Sequence[tuple[float, float, float, float]],
        *,
        across: bool = False,
        **style: Any,
    ) -> None:
        """Fill boxes given as (x, y, width, height) as one collection."""
        if not boxes:
            return
        corners = [((x, y), (x + w, y), (x + w, y + h), (x, y + h)) for x, y, w, h in boxes]
        collection = PolyCollection(corners, transform=self._transform(across=across), **style)
        self.figure.add_artist(collection)


def _figure(size: tuple[float, float]) -> tuple[Figure, _Canvas]:
    """Return a white figure of ``size`` inches and the Agg canvas it draws on."""
    figure = Figure(figsize=size, dpi=_DPI, facecolor="white")
    return figure, FigureCanvasAgg(figure)


def _write(
    figure: Figure,
    x: float,
    y: float,
    words: str,
    *,
    size: float,
    color: str = _INK,
    ha: str = "left",
    va: str = "center",
    **style: Any,
) -> None:
    """Place text on the figure in the charts' font, in figure fractions by default."""
    figure.text(x, y, words, fontsize=size, family=_FONT, color=color, ha=ha, va=va, **style)


def _draw_legend(
    figure: Figure,
    x: float,
    top: float,
    entries: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    bold: bool = False,
) -> None:
    """Draw a key of (label, "line" | "marker" | "box", style) rows from ``top`` down.

    Drawn by hand: matplotlib's Legend lays itself out through offset boxes, which costs as
    much as the whole rest of a patient chart.
    """
    width, step = 0.032, 0.044
    for index, (label, kind, style) in enumerate(entries):
        y = top - index * step
        if kind == "box":
            box = Rectangle((x, y - 0.011), width, 0.022, transform=figure.transFigure, **style)
            figure.add_artist(box)
        elif kind == "line":
            sample = Line2D(
                [x, x + width / 2, x + width],
                [y] * 3,
                markevery=[1],
                transform=figure.transFigure,
                **style,
            )
            figure.add_artist(sample)
        else:
            sample = Line2D([x + width / 2], [y], transform=figure.transFigure, **style)
            figure.add_artist(sample)
        _write(figure, x + width + 0.012, y, label, size=9, weight="bold" if bold else "normal")


# Patient chart parts ----------------------------------------------------------------------------


def _draw_patient_frame(panel: _Panel, span: int, text: Mapping[str, str]) -> None:
    """Draw the score grid with its scale, the strip separators and the strips' names."""
    start, end = -0.5, span - 0.5
    panel.lines(
        [[(start, y), (end, y)] for y in range(0, 11, 2)], colors=_TRACK, linewidths=0.8, zorder=0
    )
    rules = (_USE_LOW, *_SEPARATORS)
    panel.lines([[(start, y), (end, y)] for y in rules], colors=_RULE, linewidths=0.8, zorder=1)
    panel.lines([[(start, _Y_BOTTOM), (end, _Y_BOTTOM)]], colors=_MUTED, linewidths=0.8, zorder=1)
    for value in range(0, 11, 2):
        panel.text(-0.01, value, str(value), size=9, ha="right", across=True)
    panel.text(
        -0.065, 5, text["chart.patient.score_axis"], size=10, ha="center", rotation=90, across=True
    )
    panel.text(
        -0.01,
        _DOSES_BASE + _DOSES_FULL / 2,
        text["chart.patient.doses_axis"],
        size=9,
        ha="right",
        across=True,
    )
    panel.text(-0.01, _DTMS_Y, text["chart.patient.dtms_axis"], size=9, ha="right", across=True)


def _draw_days(
    panel: _Panel,
    days: Sequence[DayTrend],
    positions: Sequence[int],
    text: Mapping[str, str],
    months: Sequence[str],
) -> None:
    """Mark every day on the baseline, rule each week start, and date the week starts."""
    if not days:
        return
    panel.series(positions, [_Y_BOTTOM] * len(positions), _DAY_TICK)
    mondays = [(x, d.day) for x, d in zip(positions, days, strict=True) if d.day.weekday() == 0]
    panel.lines(
        [[(x - 0.5, _Y_BOTTOM), (x - 0.5, _USE_HIGH)] for x, _ in mondays if x > 0],
        colors=_MUTED,
        linewidths=0.9,
        zorder=1,
    )
    dated = list(mondays)
    # The first day is dated too, unless a week start follows too closely to leave it room.
    if days[0].day.weekday() != 0 and (not mondays or mondays[0][0] >= 3):
        dated.insert(0, (positions[0], days[0].day))
    panel.series([x for x, _ in dated], [_Y_BOTTOM] * len(dated), _DATE_TICK)
    for x, day in dated:
        panel.text(
            x, -0.03, _date_text(day, text, months), size=9, ha="center", va="top", down=True
        )


def _draw_use(panel: _Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
    """Fill the top band over each day with reported use and tint its column below."""
    used = [x for x, d in zip(positions, days, strict=True) if d.used]
    if not used:
        return
    panel.boxes(
        [(x - 0.45, _USE_LOW, 0.9, _USE_HIGH - _USE_LOW) for x in used],
        facecolors=_USE_BAND,
        zorder=0,
    )
    column = _USE_LOW - _SEPARATORS[0]
    panel.boxes(
        [(x - 0.45, _SEPARATORS[0], 0.9, column) for x in used], facecolors=_USE_COLUMN, zorder=0
    )
    panel.series(used, [(_USE_LOW + _USE_HIGH) / 2] * len(used), _USE_MARKER)


def _draw_scores(panel: _Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
    """Draw craving and mood as lines that break on days without a check-in."""
    # NaN breaks a matplotlib line, so a day without a check-in leaves a gap, never a bridge.
    craving = [math.nan if d.craving is None else d.craving for d in days]
    mood = [math.nan if d.mood is None else d.mood for d in days]
    panel.series(positions, craving, _CRAVING_LINE)
    panel.series(positions, mood, _MOOD_LINE)


def _draw_doses(panel: _Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
    """Draw each day with doses due as a frame filled to the share taken; cross out empty ones."""
    shares = [
        (x, min(d.doses_taken / d.doses_scheduled, 1.0))
        for x, d in zip(positions, days, strict=True)
        if d.doses_scheduled > 0
    ]
    # The frame is what was due and the fill what was taken, so an empty frame is a missed day.
    panel.boxes(
        [(x - 0.39, _DOSES_BASE, 0.78, _DOSES_FULL) for x, _ in shares],
        facecolors="white",
        edgecolors=_MUTED,
        linewidths=0.8,
        zorder=2,
    )
    panel.boxes(
        [(x - 0.39, _DOSES_BASE, 0.78, share * _DOSES_FULL) for x, share in shares if share > 0],
        **_DOSE_BOX,
        zorder=3,
    )
    missed = [x for x, share in shares if share == 0]
    if missed:
        panel.series(missed, [_DOSES_BASE + _DOSES_FULL / 2] * len(missed), _NONE_TAKEN_MARKER)


def _draw_dtms(panel: _Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
    """Mark each day's dTMS session with a shape and colour per status."""
    for status, style in _DTMS_MARKERS.items():
        xs = [x for x, d in zip(positions, days, strict=True) if d.dtms == status]
        if xs:
            panel.series(xs, [_DTMS_Y] * len(xs), style)


def _patient_legend(text: Mapping[str, str]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Return the key's rows; all are listed so the key reads the same every week."""
    rows = [
        (text["chart.craving"], "line", _CRAVING_LINE),
        (text["chart.mood"], "line", _MOOD_LINE),
        (text["chart.use"], "marker", _USE_MARKER),
        (text["chart.doses.taken"], "box", _DOSE_KEY),
        (text["chart.doses.none"], "marker", _NONE_TAKEN_MARKER),
    ]
    rows.extend(
        (text[f"chart.dtms.{status}"], "marker", _DTMS_MARKERS[status]) for status in DTMS_STATUSES
    )
    return rows


# Cohort chart parts -----------------------------------------------------------------------------


def _draw_cohort_column(
    panel: _Panel,
    column: int,
    shares: Sequence[float | None],
    written: Sequence[str],
    colour: str,
) -> None:
    """Draw one column: a grey track per row, a bar to the row's share and its value in words."""
    half = _ROW_BAR / 2
    panel.boxes(
        [(column, row - half, _TRACK_WIDTH, _ROW_BAR) for row in range(len(shares))],
        facecolors=_TRACK,
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
            color=_MUTED if share is None else _INK,
        )


def _number(value: float | None, kind: str, *, whole: bool = False) -> str:
    """Write a 0-10 mean with one decimal or a percentage without; a dash when absent."""
    if value is None:
        return _DASH
    if kind == "percent":
        return f"{value:.0f}%"
    return f"{value:.0f}" if whole else f"{value:.1f}"


# Shared -----------------------------------------------------------------------------------------


def _checked(labels: Mapping[str, str], keys: Sequence[str]) -> Mapping[str, str]:
    """Return the labels after checking that every key the chart reads is present."""
    missing = [key for key in keys if key not in labels]
    if missing:
        message = f"chart label(s) missing: {', '.join(missing)}"
        raise KeyError(message)
    return labels


def _month_names(text: Mapping[str, str]) -> list[str]:
    """Return the twelve month abbreviations of ``chart.months``."""
    names = text["chart.months"].split()
    if len(names) != 12:
        message = f"chart.months must hold 12 space-separated names, got {len(names)}"
        raise ValueError(message)
    return names


def _date_text(day: date, text: Mapping[str, str], months: Sequence[str]) -> str:
    """Write a day with the locale's short date pattern ("Nov 3", "3 nov")."""
    return _fill(text["chart.date"], month=months[day.month - 1], day=day.day)


def _fill(template: str, **values: object) -> str:
    """Replace each ``{name}`` placeholder literally, leaving any other brace alone."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def _png(canvas: _Canvas) -> bytes:
    """Render the canvas's figure and return it as PNG bytes."""
    canvas.draw()
    return _encode_png(canvas)


def _encode_png(canvas: _Canvas) -> bytes:
    """Encode what the canvas holds as an 8-bit RGBA PNG."""
    pixels = np.asarray(canvas.buffer_rgba())
    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 4)
    # Filter "Up" (type 2) stores each row as its difference from the row above; a chart is
    # mostly flat colour, so that leaves long zero runs that zlib's fastest level packs well.
    # Encoding here instead of through Pillow, which tries every filter on every row, takes a
    # quarter of the time for a similar size. RGBA is kept: dropping the (opaque) alpha channel
    # costs a strided copy that outweighs the smaller input to zlib.
    raw = np.empty((height, width * 4 + 1), dtype=np.uint8)
    raw[:, 0] = 2
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw.data, _ZLIB_LEVEL)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data and the CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
