"""Weight-trace plots are written as PNG files."""

from __future__ import annotations

from pathlib import Path

import pytest
from weight_signals import add_step, quiet_trace, series

from walkout.plots import plot_plate_trace, plot_plates
from walkout.sensing.detector import detect_plate_changes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plate_trace_png(tmp_path: Path) -> None:
    t, g = quiet_trace()
    add_step(t, g, 10.0, -105.5)
    plate_series = series("2.5.4", t, g)
    out = tmp_path / "plots" / "trace.png"

    plot_plate_trace(plate_series, detect_plate_changes(plate_series), out, title="x")

    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000


def test_stacked_plates_png(tmp_path: Path) -> None:
    first_t, first_g = quiet_trace(seed=1)
    second_t, second_g = quiet_trace(seed=2)
    add_step(second_t, second_g, 15.0, 538.0)
    plates = [series("1.5.9", first_t, first_g), series("1.5.10", second_t, second_g)]
    changes = {plate.plate: detect_plate_changes(plate) for plate in plates}
    out = tmp_path / "stack.png"

    plot_plates(plates, changes, out)

    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert out.stat().st_size > 20_000


def test_no_plates_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no plates"):
        plot_plates([], {}, tmp_path / "empty.png")
