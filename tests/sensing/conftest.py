"""Fixtures of the sensing tests: the NanoStore load-cell recording cps-test-01."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from walkout.recording.model import Plate, PlateSeries, Store, StoreInfo

_FILE_NAME = re.compile(r"gondola_(\d+)_shelf_(\d+)_plate_(\d+)\.csv")


def load_weight_csvs(folder: Path) -> tuple[list[PlateSeries], Store]:
    """Read ``gondola_G_shelf_S_plate_P.csv`` files as plate series and a store.

    The files have no header and contain ``unix_t, grams``. Some step back in
    time by a few milliseconds, so each is sorted by time. Plate centres in the
    store are dummies: only the numbering matters for neighbours.
    """
    series_list = []
    plates = {}
    read_options = pacsv.ReadOptions(column_names=["t", "g"])
    for path in sorted(folder.glob("gondola_*_shelf_*_plate_*.csv")):
        match = _FILE_NAME.fullmatch(path.name)
        assert match, f"unexpected weight file name {path.name}"
        gondola, shelf, plate = (int(part) for part in match.groups())
        plate_id = f"{gondola}.{shelf}.{plate}"
        table = pacsv.read_csv(path, read_options=read_options)
        t = table.column("t").to_numpy().astype(np.float64)
        g = table.column("g").to_numpy().astype(np.float64)
        order = np.argsort(t, kind="stable")
        series_list.append(PlateSeries(plate_id, t[order], g[order]))
        plates[plate_id] = Plate(
            plate_id, gondola, shelf, plate, (0.0, 0.0, 0.0), (0.1016, 0.4064)
        )
    store = Store(StoreInfo("nanostore", "NanoStore", "USD"), {}, plates, [])
    return series_list, store


@pytest.fixture(scope="session")
def cps_test_01(nanostore_dir: Path) -> tuple[list[PlateSeries], Store]:
    """Return every plate of cps-test-01 and a store built from the file names."""
    return load_weight_csvs(nanostore_dir / "cps-test-01" / "weight_csv")
