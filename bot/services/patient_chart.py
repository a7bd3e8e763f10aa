"""The patient chart: one patient's 28-day trend of craving, mood, use, doses and dTMS.

Every visible word comes from a ``labels`` mapping (``PATIENT_LABEL_KEYS``). Charts of a batch
that share labels and dates (a digest's do) are drawn over one rendering of their common
frame, scale, dates and key (the backdrop).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any

from matplotlib.figure import Figure

from bot.models import DayTrend, PatientTrend
from bot.services.chart_drawing import (
    BLUE,
    GREEN,
    INK,
    MUTED,
    ORANGE,
    RULE,
    TRACK,
    VERMILLION,
    Panel,
    checked_labels,
    draw_legend,
    encode_png,
    fill,
    new_figure,
    write,
)

# Placeholders are replaced literally (not with str.format), so a stray brace in a translation
# can never break a chart: "{label}" in the patient title, "{month}" and "{day}" in the date
# pattern. ``chart.months`` holds twelve space-separated abbreviated month names, January first.
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

DTMS_STATUSES: tuple[str, ...] = ("attended", "missed", "reschedule", "confirmed", "scheduled")

_USE_BAND = "#D55E0050"
_USE_COLUMN = "#D55E0012"
_PATIENT_SIZE = (10.0, 5.6)  # inches at 100 dpi: 1000 x 560 px
_PATIENT_LEFT, _PATIENT_RIGHT = 0.085, 0.775  # the drawing area; the key sits to its right

# A rendered patient backdrop, kept as Agg's pixel copy (its class is not public API).
Backdrop = Any

# The patient chart's one drawing area, in data units: x is the day index, y puts the 0-10
# score scale in the middle, reported use in a band above it and two strips below it.
_Y_BOTTOM = -5.0
_USE_LOW, _USE_HIGH = 10.7, 12.0
_DOSES_BASE, _DOSES_FULL = -3.25, 2.0
_DTMS_Y = -4.3
_SEPARATORS = (-0.9, -3.6)


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


_CRAVING_LINE = _line_style(ORANGE, "-", "o")
_MOOD_LINE = _line_style(BLUE, "--", "s")
_USE_MARKER = _marker_style("v", VERMILLION, INK, 8.5)
_NONE_TAKEN_MARKER = _marker_style("x", VERMILLION, VERMILLION, 7.0)
_DAY_TICK = _marker_style("|", MUTED, MUTED, 4.0)
_DATE_TICK = _marker_style("|", MUTED, MUTED, 9.0)
# Filled shapes are outcomes; the hollow triangle is a session ahead with no answer yet.
_DTMS_MARKERS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "attended": _marker_style("o", GREEN, GREEN, 8.0),
        "missed": _marker_style("X", VERMILLION, VERMILLION, 9.0),
        "reschedule": _marker_style("D", ORANGE, INK, 7.0),
        "confirmed": _marker_style("^", BLUE, BLUE, 8.5),
        "scheduled": _marker_style("^", "white", BLUE, 8.5),
    }
)
_DOSE_BOX: Mapping[str, Any] = MappingProxyType(
    {"facecolors": "#009E7373", "edgecolors": GREEN, "linewidths": 0.8}
)
_DOSE_KEY: Mapping[str, Any] = MappingProxyType(
    {"facecolor": "#009E7373", "edgecolor": GREEN, "linewidth": 0.8}
)


def render_patient_chart(trend: PatientTrend, labels: Mapping[str, str]) -> bytes:
    """Return a PNG of a patient's daily craving, mood, use, dose adherence and dTMS sessions."""
    return render_patient(trend, labels, {})


def render_patient(
    trend: PatientTrend, labels: Mapping[str, str], backdrops: dict[Hashable, Backdrop]
) -> bytes:
    """Draw the patient's marks and title over the backdrop for its labels and dates."""
    text = checked_labels(labels, PATIENT_LABEL_KEYS)
    days = trend.days
    positions = [(d.day - days[0].day).days for d in days]
    span = positions[-1] + 1 if positions else 28
    key = (tuple(text[k] for k in PATIENT_LABEL_KEYS), tuple(d.day for d in days))
    backdrop = backdrops.get(key)
    if backdrop is None:
        backdrop = backdrops[key] = _patient_backdrop(days, positions, span, text)

    figure, canvas = new_figure(_PATIENT_SIZE)
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
            color=MUTED,
            ha="center",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 4},
        )
    title = fill(text["chart.patient.title"], label=trend.label)
    write(figure, _PATIENT_LEFT, 0.935, title, size=14, weight="bold", va="bottom")

    # Only this patient's artists are drawn; the backdrop supplies everything else.
    canvas.restore_region(backdrop)
    renderer = canvas.get_renderer()
    for artist in sorted(figure.get_children()[1:], key=lambda artist: artist.get_zorder()):
        artist.draw(renderer)
    return encode_png(canvas)


def _patient_backdrop(
    days: Sequence[DayTrend], positions: Sequence[int], span: int, text: Mapping[str, str]
) -> Backdrop:
    """Render what every patient with these labels and dates shares: frame, scale, dates, key."""
    figure, canvas = new_figure(_PATIENT_SIZE)
    panel = _patient_panel(figure, span)
    _draw_patient_frame(panel, span, text)
    _draw_days(panel, days, positions, text, _month_names(text))
    draw_legend(figure, _PATIENT_RIGHT + 0.02, 0.88, _patient_legend(text))
    canvas.draw()
    return canvas.copy_from_bbox(figure.bbox)


def _patient_panel(figure: Figure, span: int) -> Panel:
    """Return the patient chart's drawing area for ``span`` days."""
    box = (_PATIENT_LEFT, 0.1, _PATIENT_RIGHT, 0.9)
    return Panel.place(figure, box, (-0.5, _Y_BOTTOM, span - 0.5, _USE_HIGH))


def _draw_patient_frame(panel: Panel, span: int, text: Mapping[str, str]) -> None:
    """Draw the score grid with its scale, the strip separators and the strips' names."""
    start, end = -0.5, span - 0.5
    panel.lines(
        [[(start, y), (end, y)] for y in range(0, 11, 2)], colors=TRACK, linewidths=0.8, zorder=0
    )
    rules = (_USE_LOW, *_SEPARATORS)
    panel.lines([[(start, y), (end, y)] for y in rules], colors=RULE, linewidths=0.8, zorder=1)
    panel.lines([[(start, _Y_BOTTOM), (end, _Y_BOTTOM)]], colors=MUTED, linewidths=0.8, zorder=1)
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
    panel: Panel,
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
        colors=MUTED,
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


def _draw_use(panel: Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
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


def _draw_scores(panel: Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
    """Draw craving and mood as lines that break on days without a check-in."""
    # NaN breaks a matplotlib line, so a day without a check-in leaves a gap, never a bridge.
    craving = [math.nan if d.craving is None else d.craving for d in days]
    mood = [math.nan if d.mood is None else d.mood for d in days]
    panel.series(positions, craving, _CRAVING_LINE)
    panel.series(positions, mood, _MOOD_LINE)


def _draw_doses(panel: Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
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
        edgecolors=MUTED,
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


def _draw_dtms(panel: Panel, days: Sequence[DayTrend], positions: Sequence[int]) -> None:
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


def _month_names(text: Mapping[str, str]) -> list[str]:
    """Return the twelve month abbreviations of ``chart.months``."""
    names = text["chart.months"].split()
    if len(names) != 12:
        message = f"chart.months must hold 12 space-separated names, got {len(names)}"
        raise ValueError(message)
    return names


def _date_text(day: date, text: Mapping[str, str], months: Sequence[str]) -> str:
    """Write a day with the locale's short date pattern ("Nov 3", "3 nov")."""
    return fill(text["chart.date"], month=months[day.month - 1], day=day.day)
