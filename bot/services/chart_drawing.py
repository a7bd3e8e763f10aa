"""Drawing charts without Axes: the palette, a panel with its own coordinates, text, keys, PNG.

Charts are drawn straight onto the figure through fixed transforms, without Axes, ticks or
Legend: those lay themselves out on every draw and cost several times what the marks, lines
and words of a chart cost. Only matplotlib's object API is used (``Figure`` with an Agg
canvas, never ``pyplot``), and nothing is kept between calls.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. Every series
# also differs by line style or marker shape, so a grey printout still tells them apart.
ORANGE = "#E69F00"
GREEN = "#009E73"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
INK = "#222222"
MUTED = "#6B6B6B"
RULE = "#BBBBBB"
TRACK = "#ECECEC"

# Named explicitly so a changed rcParams default can never swap in a font lacking accents.
_FONT = "DejaVu Sans"
_DPI = 100
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Level 6 (zlib's default) takes twice as long for about a fifth fewer bytes (~65 kB a chart).
_ZLIB_LEVEL = 1

# FigureCanvasAgg's drawing and blitting methods carry no annotations upstream.
Canvas = Any


@dataclass(frozen=True, slots=True)
class Panel:
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
    ) -> Panel:
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
        write(
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


def new_figure(size: tuple[float, float]) -> tuple[Figure, Canvas]:
    """Return a white figure of ``size`` inches and the Agg canvas it draws on."""
    figure = Figure(figsize=size, dpi=_DPI, facecolor="white")
    return figure, FigureCanvasAgg(figure)


def write(
    figure: Figure,
    x: float,
    y: float,
    words: str,
    *,
    size: float,
    color: str = INK,
    ha: str = "left",
    va: str = "center",
    **style: Any,
) -> None:
    """Place text on the figure in the charts' font, in figure fractions by default."""
    figure.text(x, y, words, fontsize=size, family=_FONT, color=color, ha=ha, va=va, **style)


def draw_legend(
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
        write(figure, x + width + 0.012, y, label, size=9, weight="bold" if bold else "normal")


def checked_labels(labels: Mapping[str, str], keys: Sequence[str]) -> Mapping[str, str]:
    """Return the labels after checking that every key the chart reads is present."""
    missing = [key for key in keys if key not in labels]
    if missing:
        message = f"chart label(s) missing: {', '.join(missing)}"
        raise KeyError(message)
    return labels


def fill(template: str, **values: object) -> str:
    """Replace each ``{name}`` placeholder literally, leaving any other brace alone."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def png(canvas: Canvas) -> bytes:
    """Render the canvas's figure and return it as PNG bytes."""
    canvas.draw()
    return encode_png(canvas)


def encode_png(canvas: Canvas) -> bytes:
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
