"""Evidence images of a doubtful line for reviewers: weight trace and top view.

Both functions return PNG bytes drawn on the Agg canvas without pyplot, as
``walkout.plots`` does.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from walkout.plots import plot_plates
from walkout.recording.model import PlateSeries
from walkout.sensing.model import PlateChange

logger = logging.getLogger(__name__)

WRIST_JOINTS = ("left_wrist", "right_wrist")
_DPI = 90
_PLATE_COLOUR = "#d9534f"
_OTHER_PLATE_COLOUR = "#c8ced6"
# Samples this close to the event window (seconds) are drawn as large markers.
_EVENT_MARGIN_S = 0.5


def _text_png(message: str) -> bytes:
    figure = Figure(figsize=(6, 2))
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, message, ha="center", va="center")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def trace_png(
    trace: Sequence[Sequence[Any]],
    *,
    plate: str,
    t_start: float,
    t_end: float,
    delta_g: float,
    title: str,
) -> bytes:
    """Draw each plate's readings around the event with its window on ``plate``.

    ``trace`` contains ``[plate, times, grams]`` entries. Draws a message in
    place of a plot when no entry has readings.
    """
    series_list = []
    for entry in trace:
        times = np.asarray(entry[1], dtype=float)
        grams = np.asarray(entry[2], dtype=float)
        size = min(times.size, grams.size)
        if size:
            order = np.argsort(times[:size], kind="stable")
            series_list.append(
                PlateSeries(
                    plate=str(entry[0]), t=times[:size][order], g=grams[:size][order]
                )
            )
    if not series_list:
        return _text_png(f"no readings stored for plate {plate}")
    event_series = next((s for s in series_list if s.plate == plate), None)
    sd_g = _step_sd(event_series, t_start, t_end) if event_series else float("nan")
    change = PlateChange(
        plate=plate, t_start=t_start, t_end=t_end, delta_g=delta_g, sd_g=sd_g
    )
    with tempfile.TemporaryDirectory(prefix="walkout-review-") as directory:
        out = Path(directory) / "trace.png"
        try:
            plot_plates(series_list, {plate: [change]}, out, title=title)
        except ValueError as error:
            # The level detector rejects traces that are too sparse or have
            # repeated times; draw the plain readings instead.
            logger.info("trace_plot_without_levels plate=%s reason=%s", plate, error)
            return _plain_trace_png(series_list, change, title=title)
        return out.read_bytes()


def _plain_trace_png(
    series_list: list[PlateSeries], change: PlateChange, *, title: str
) -> bytes:
    """Draw the readings of each plate and the event window, without levels."""
    figure = Figure(figsize=(11, 2.6 * len(series_list) + 0.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(series_list), 1, sharex=True, squeeze=False)
    for axis, series in zip(axes[:, 0], series_list, strict=True):
        axis.plot(series.t, series.g, marker=".", linewidth=0.7, color="#1f4e79")
        if series.plate == change.plate:
            axis.axvspan(change.t_start, change.t_end, color=_PLATE_COLOUR, alpha=0.25)
            axis.set_title(f"{change.delta_g:+.1f} g", fontsize=9, loc="right")
        axis.set_ylabel(f"plate {series.plate}\nload (g)")
        axis.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _step_sd(series: PlateSeries, t_start: float, t_end: float) -> float:
    """Estimate the standard error of the level change from the readings around it.

    Uses the readings before ``t_start`` and after ``t_end`` as the two
    levels; returns NaN when either side has fewer than two readings.
    """
    before = series.g[series.t < t_start]
    after = series.g[series.t > t_end]
    if before.size < 2 or after.size < 2:
        return float("nan")
    variance = before.var(ddof=1) / before.size + after.var(ddof=1) / after.size
    return float(np.sqrt(variance))


def positions_png(
    positions: Sequence[Mapping[str, Any]],
    *,
    plate: Mapping[str, Any] | None,
    other_plates: Sequence[Mapping[str, Any]],
    t_start: float,
    t_end: float,
    shopper_candidates: Mapping[str, float],
    title: str,
) -> bytes:
    """Draw a top view (x, y) of the wrists near the plate around the event.

    ``plate`` and ``other_plates`` are store.json plate entries (``center``
    and ``size`` in metres). Each track gets one colour; samples within
    ``_EVENT_MARGIN_S`` of the event window are drawn larger. The legend
    names the track, its visit and the visit's probability.
    """
    figure = Figure(figsize=(6.4, 5.6))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for other in other_plates:
        _draw_plate(axis, other, colour=_OTHER_PLATE_COLOUR, label=None)
    if plate is not None:
        _draw_plate(axis, plate, colour=_PLATE_COLOUR, label=f"plate {plate['id']}")

    tracks: dict[str, list[Mapping[str, Any]]] = {}
    for sample in positions:
        if sample.get("joint") in WRIST_JOINTS:
            tracks.setdefault(str(sample.get("track")), []).append(sample)
    palette = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#17becf",
    ]
    for index, (track, samples) in enumerate(sorted(tracks.items())):
        colour = palette[index % len(palette)]
        points = [
            (float(s["x"]), float(s["y"]), float(s["t"]))
            for s in samples
            if _is_number(s.get("x"))
            and _is_number(s.get("y"))
            and _is_number(s.get("t"))
        ]
        if not points:
            continue
        xs = np.array([p[0] for p in points])
        ys = np.array([p[1] for p in points])
        ts = np.array([p[2] for p in points])
        near = (ts >= t_start - _EVENT_MARGIN_S) & (ts <= t_end + _EVENT_MARGIN_S)
        visit = str(samples[0].get("visit") or "-")
        probability = shopper_candidates.get(visit)
        label = f"track {track}, visit {visit[:8]}"
        if probability is not None:
            label += f", p={probability:.2f}"
        axis.scatter(xs[~near], ys[~near], s=6, color=colour, alpha=0.35)
        axis.scatter(xs[near], ys[near], s=30, color=colour, label=label)

    axis.set_aspect("equal", adjustable="datalim")
    axis.set_xlabel("x (m)")
    axis.set_ylabel("y (m)")
    axis.grid(True, alpha=0.3)
    axis.set_title(title, fontsize=10)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _draw_plate(
    axis: Any, plate: Mapping[str, Any], *, colour: str, label: str | None
) -> None:
    center = plate.get("center")
    size = plate.get("size")
    if not (isinstance(center, list) and isinstance(size, list)):
        return
    if len(center) < 2 or len(size) < 2:
        return
    if not all(_is_number(value) for value in (*center[:2], *size[:2])):
        return
    width, depth = float(size[0]), float(size[1])
    corner = (float(center[0]) - width / 2, float(center[1]) - depth / 2)
    axis.add_patch(
        Rectangle(corner, width, depth, color=colour, alpha=0.45, label=label)
    )
