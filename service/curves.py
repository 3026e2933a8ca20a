"""History -> training-curve chart (SVG or PNG): one panel per quantity, training and
validation lines, the epochs early stopping kept and stopped at marked.

Drawn with Matplotlib's object-oriented API on the Agg canvas, never pyplot: pyplot keeps
a global "current figure" that gunicorn's threads would share. Matplotlib takes a few
hundred milliseconds to import, so it is imported on the first chart, not at start-up.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
PANEL_INCHES = (5.0, 3.0)
HEADER_INCHES = 0.45  # the title, and the legend under it
NOTE_INCHES = 0.4  # the note at the bottom (one or two lines)
DPI = 100
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"
# Loss-like panels switch to a log scale when they span more than this factor, so the
# late epochs (where overfitting shows) are not a flat line at the bottom.
LOG_SPAN = 20.0
LOSS_LIKE = ("loss", "mse", "mae", "mape", "msle", "error")
MARKERS_UP_TO = 30  # epochs drawn as dots as well as a line; more would be a smear
NOTE_CHARACTERS_PER_INCH = 13  # at the note's 9 points
# Matplotlib's text rendering shares font caches and other module state across figures;
# its documentation asks for a lock around drawing from several threads. Charts are rare
# next to predictions, so serializing them costs little.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class Mark:
    """A vertical line at an epoch (1-based), named in the legend."""

    epoch: int
    label: str
    color: str
    style: str = "--"


def render(
    history: Mapping[str, Sequence[float | None]],
    fmt: str,
    title: str,
    note: str | None = None,
    marks: Sequence[Mark] = (),
) -> bytes:
    """The chart of `history` as `fmt` ("svg" or "png"). A history without epochs gives
    a chart that says so, so an <img> of a queued job shows a message, not a broken
    image. None values (NaN or infinite losses) are gaps in the lines."""
    with _DRAWING:
        figure = _figure(history, title, note, marks)
        buffer = io.BytesIO()
        # No timestamps or version strings in the file: nothing that changes per render
        # or per deploy beyond the picture itself.
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _figure(
    history: Mapping[str, Sequence[float | None]],
    title: str,
    note: str | None,
    marks: Sequence[Mark],
) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quantities = _quantities(history) if any(history.values()) else []
    columns = 2 if len(quantities) > 1 else 1
    rows = max(1, math.ceil(len(quantities) / columns))
    footer = NOTE_INCHES if note else 0.0
    height = PANEL_INCHES[1] * rows + HEADER_INCHES + footer
    figure = Figure(figsize=(PANEL_INCHES[0] * columns, height), dpi=DPI)
    FigureCanvasAgg(figure)
    # parse_math off: a job name is client text, and "$" would start Matplotlib's TeX.
    figure.suptitle(
        textwrap.shorten(title, 60 * columns),
        y=1 - 0.08 / height,
        va="top",
        fontsize=13,
        fontweight="bold",
        parse_math=False,
    )
    if note:
        wrapped = textwrap.fill(note, int(NOTE_CHARACTERS_PER_INCH * PANEL_INCHES[0] * columns))
        figure.text(
            0.5, 0.06 / height, wrapped, ha="center", va="bottom", fontsize=9, parse_math=False
        )
    if not quantities:
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No finished epoch yet", ha="center", va="center", fontsize=12)
    legend: dict[str, Artist] = {}  # one legend for all panels: they share their lines
    for index, name in enumerate(quantities, start=1):
        axes = figure.add_subplot(rows, columns, index)
        _panel(axes, name, history, marks)
        handles, labels = axes.get_legend_handles_labels()
        legend |= {label: handle for handle, label in zip(handles, labels, strict=True)}
    if legend:
        figure.legend(
            legend.values(),
            legend.keys(),
            loc="upper center",
            ncols=len(legend),
            bbox_to_anchor=(0.5, 1 - 0.3 / height),
            frameon=False,
            fontsize=9,
        )
    figure.tight_layout(pad=0.6, rect=(0, footer / height, 1, 1 - HEADER_INCHES / height))
    return figure


def _quantities(history: Mapping[str, Sequence[float | None]]) -> list[str]:
    """Each quantity once (`loss` first), whether logged for training, validation or both."""
    names = dict.fromkeys(name.removeprefix("val_") for name in history)
    return sorted(names, key=lambda name: name != "loss")


def _panel(
    axes: Axes,
    name: str,
    history: Mapping[str, Sequence[float | None]],
    marks: Sequence[Mark],
) -> None:
    from matplotlib.ticker import MaxNLocator

    series = [(name, "training", TRAIN_COLOR), (f"val_{name}", "validation", VAL_COLOR)]
    shown: list[float] = []
    epochs = 0
    for key, label, color in series:
        values = history.get(key)
        if not values:
            continue
        points = [math.nan if v is None else v for v in values]
        epochs = max(epochs, len(points))
        axes.plot(
            range(1, len(points) + 1),
            points,
            color=color,
            label=label,
            marker="o" if len(points) < MARKERS_UP_TO else "",
            markersize=3,
            linewidth=1.6,
        )
        shown += [v for v in points if math.isfinite(v)]
    for mark in marks:
        axes.axvline(
            mark.epoch, color=mark.color, linestyle=mark.style, linewidth=1.2, label=mark.label
        )
    axes.set_title(name)
    axes.set_xlabel("epoch")
    # Whole epochs only, and the whole run in view even where its values are missing.
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlim(0.5, max(epochs, *(m.epoch for m in marks), 1) + 0.5)
    axes.grid(True, alpha=0.3)
    if not shown:
        axes.set_yticks([])
        axes.text(0.5, 0.5, "no finite values", transform=axes.transAxes, ha="center")
    elif _log_scaled(name, shown):
        _log_axis(axes, shown)


def _log_axis(axes: Axes, values: list[float]) -> None:
    """A log scale labelled in plain numbers (0.01, 0.1, 1), with 2s and 5s labelled too
    where the values span under two decades and the decades alone would be too few."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes.yaxis.set_major_formatter(plain)
    axes.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    narrow = max(values) / min(values) < 100
    axes.yaxis.set_minor_formatter(plain if narrow else NullFormatter())


def _log_scaled(name: str, values: list[float]) -> bool:
    loss_like = any(part in name for part in LOSS_LIKE)
    return loss_like and bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SPAN
