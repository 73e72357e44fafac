"""Plots of load-cell traces with the plate changes found in them.

Figures are ``matplotlib.figure.Figure`` objects saved through the Agg
canvas, without pyplot, so nothing opens a window and the global backend is
left alone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from walkout.recording.model import PlateSeries
from walkout.sensing.detector import DetectorParams, analyse_plate
from walkout.sensing.model import PlateChange

logger = logging.getLogger(__name__)

_RAW_COLOUR = "#9aa5b1"
_LEVEL_COLOUR = "#1f4e79"
_TAKE_COLOUR = "#d9534f"
_PUT_COLOUR = "#5cb85c"
# Clock values above this are taken as UNIX time and labelled as UTC dates.
_UNIX_EPOCH_MIN = 1e8


def plot_plate_trace(
    series: PlateSeries,
    changes: list[PlateChange],
    out: Path,
    *,
    title: str | None = None,
) -> None:
    """Draw one plate's readings, settled levels and change windows to ``out``."""
    plot_plates([series], {series.plate: changes}, out, title=title)


def plot_plates(
    series_list: list[PlateSeries],
    changes_by_plate: dict[str, list[PlateChange]],
    out: Path,
    *,
    title: str | None = None,
) -> None:
    """Draw several plates stacked on one shared time axis to ``out``.

    Raises ``ValueError`` when ``series_list`` is empty or contains no readings.
    """
    if not series_list:
        raise ValueError(f"no plates to plot into {out}; pass at least one series")
    starts = [float(series.t[0]) for series in series_list if series.t.size]
    if not starts:
        raise ValueError(f"no readings in any of the plates to plot into {out}")
    origin = min(starts)

    figure = Figure(figsize=(11, 2.6 * len(series_list) + 0.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(series_list), 1, sharex=True, squeeze=False)
    for axis, series in zip(axes[:, 0], series_list, strict=True):
        _draw_plate(axis, series, changes_by_plate.get(series.plate, []), origin)
    axes[-1, 0].set_xlabel(f"time (s) from {_format_origin(origin)}")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    logger.info("wrote plot of %d plates to %s", len(series_list), out)


def _draw_plate(
    axis: Axes, series: PlateSeries, changes: list[PlateChange], origin: float
) -> None:
    axis.plot(
        series.t - origin, series.g, color=_RAW_COLOUR, linewidth=0.7, label="readings"
    )

    # Settled levels: each stable stretch drawn at its mean filtered level.
    if series.t.size >= 2:
        analysis = analyse_plate(series, DetectorParams())
        for index, (start, end) in enumerate(
            zip(analysis.starts.tolist(), analysis.ends.tolist(), strict=True)
        ):
            level = float(analysis.smooth[start:end].mean())
            axis.plot(
                [analysis.t[start] - origin, analysis.t[end - 1] - origin],
                [level, level],
                color=_LEVEL_COLOUR,
                linewidth=2.0,
                label="settled level" if index == 0 else None,
            )

    for change in changes:
        colour = _TAKE_COLOUR if change.delta_g < 0 else _PUT_COLOUR
        # Widen zero-length windows so that a clean step stays visible.
        left = change.t_start - origin - 0.1
        right = change.t_end - origin + 0.1
        axis.axvspan(left, right, color=colour, alpha=0.25)
        axis.annotate(
            f"{change.delta_g:+.1f} g\n± {change.sd_g:.1f}",
            xy=(right, 0.95),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            va="top",
            fontsize=9,
            color=colour,
            fontweight="bold",
        )

    axis.set_ylabel(f"plate {series.plate}\nload (g)")
    axis.grid(True, alpha=0.3)
    axis.legend(loc="lower left", fontsize=8, frameon=False)


def _format_origin(origin: float) -> str:
    if origin > _UNIX_EPOCH_MIN:
        moment = datetime.fromtimestamp(origin, tz=UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return f"t = {origin:.3f} s"
