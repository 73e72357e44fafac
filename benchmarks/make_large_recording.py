"""Write a large simulated store recording for the replay speed benchmark.

The store is the built-in store's four gondolas tiled side by side (copy
``k`` is shifted ``k`` store widths east and its gondolas are numbered
``4k + 1`` to ``4k + 4``), cut to the requested number of plates in whole
gondolas. Shoppers enter at random times spread over the recording, take a
few items each, sometimes put one back and leave through the built-in door.
Everything is rendered by the simulator's ``render``: load cells, poses,
gates and truth.

Usage::

    python benchmarks/make_large_recording.py OUT [--plates 300] [--hours 1]
        [--shoppers 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from walkout.recording import Facing, Plate, Store, write_recording
from walkout.recording.writer import GZIP_LEVEL, weights_table
from walkout.sim import (
    MotionModel,
    PutBack,
    ShopperPlan,
    SimulationSettings,
    Take,
    Wait,
    builtin_store,
    render,
)
from walkout.sim.store import STORE_SIZE_M
from walkout.sim.timeline import StoreGeometry, build_timeline

logger = logging.getLogger("make_large_recording")

WEIGHTS_FILE = "weights.csv.gz"
WRITE_CHUNK_ROWS = 2_000_000
"""Rows of weights.csv formatted per step of the progress display."""

VISIT_MARGIN_S = 240.0
"""Time kept free at the end for the last shopper's visit and exit."""


def tiled_store(plate_count: int) -> Store:
    """Tile the built-in store east-west until it has ``plate_count`` plates.

    Raises ``ValueError`` unless ``plate_count`` is a positive multiple of the
    built-in gondola size (30 plates).
    """
    base = builtin_store()
    per_gondola = len(base.plates) // len({p.gondola for p in base.plates.values()})
    if plate_count <= 0 or plate_count % per_gondola:
        raise ValueError(
            f"--plates is {plate_count}; use a positive multiple of {per_gondola}, "
            "the plates of one built-in gondola"
        )
    gondolas_needed = plate_count // per_gondola
    base_gondolas = sorted({p.gondola for p in base.plates.values()})

    plates: dict[str, Plate] = {}
    planogram: list[Facing] = []
    copy = 0
    while len(plates) < plate_count:
        shift_x = copy * STORE_SIZE_M[0]
        renamed: dict[str, str] = {}
        for old in base_gondolas:
            new_gondola = copy * len(base_gondolas) + old
            if new_gondola > gondolas_needed:
                break
            for plate in base.plates.values():
                if plate.gondola != old:
                    continue
                new_id = f"{new_gondola}.{plate.shelf}.{plate.plate}"
                renamed[plate.id] = new_id
                center = (plate.center[0] + shift_x, plate.center[1], plate.center[2])
                plates[new_id] = replace(
                    plate, id=new_id, gondola=new_gondola, center=center
                )
        for facing in base.planogram:
            if all(plate in renamed for plate in facing.plates):
                new_plates = tuple(renamed[plate] for plate in facing.plates)
                planogram.append(replace(facing, plates=new_plates))
        copy += 1

    return Store(
        info=replace(base.info, id=f"walkout-demo-x{copy}"),
        products=dict(base.products),
        plates=plates,
        planogram=planogram,
        zones=list(base.zones),
        staff_accounts=base.staff_accounts,
    )


def shopper_plans(
    store: Store, shoppers: int, duration_s: float, rng: np.random.Generator
) -> list[ShopperPlan]:
    """Build one plan per shopper, entering at random times over ``duration_s``.

    Each shopper takes 3 to 6 units from facings that still hold them, waits
    a little between shelves, and with probability 0.3 puts one taken unit
    back on the plate it came from. The last shopper enters so that the
    recording ends near ``duration_s``.
    """
    units_left = {
        index: facing.qty or 0 for index, facing in enumerate(store.planogram)
    }
    latest_entry = max(duration_s - VISIT_MARGIN_S, 1.0)
    entries = np.sort(rng.uniform(1.0, latest_entry, shoppers))
    entries[-1] = latest_entry
    plans: list[ShopperPlan] = []
    for number, enter_t in enumerate(entries, start=1):
        actions: list[Take | PutBack | Wait] = []
        taken_units: list[tuple[str, str]] = []
        for _ in range(int(rng.integers(3, 7))):
            choices = [index for index, left in units_left.items() if left > 0]
            if not choices:
                break
            index = int(rng.choice(choices))
            units_left[index] -= 1
            facing = store.planogram[index]
            plate = str(rng.choice(facing.plates))
            actions.append(Take(plate=plate))
            actions.append(Wait(seconds=float(rng.uniform(2.0, 10.0))))
            taken_units.append((plate, facing.sku))
        if taken_units and rng.random() < 0.3:
            plate, sku = taken_units[int(rng.integers(len(taken_units)))]
            actions.append(PutBack(plate=plate, sku=sku))
        plans.append(
            ShopperPlan(
                track=f"p{number}",
                account=f"acct-{number}",
                enter_t=round(float(enter_t), 2),
                actions=list(actions),
            )
        )
    plans[-1].enter_t = _last_entry(store, plans[-1], duration_s, rng)
    return plans


def _last_entry(
    store: Store, plan: ShopperPlan, duration_s: float, rng: np.random.Generator
) -> float:
    """Return an entry time that makes ``plan`` end the recording near ``duration_s``.

    The renderer draws its own reach timings, so the real end differs from
    ``duration_s`` by a few seconds.
    """
    motion = MotionModel()
    timeline = build_timeline(StoreGeometry(store, motion), plan, motion, rng)
    visit_s = timeline.exit_t - timeline.enter_t
    entry = duration_s - SimulationSettings().lead_in_s - visit_s
    return round(max(entry, plan.enter_t), 2)


def write_weights_with_progress(table: pa.Table, target: Path) -> None:
    """Write weights.csv.gz as ``write_recording`` does, in slices, showing progress.

    The bytes match ``write_recording``'s: an unquoted header, unquoted fields
    (plate ids contain no comma, quote or line break) and a gzip member with
    mtime 0 named after the plain file.
    """
    partial = target.with_name(target.name + ".partial")
    rows = table.num_rows
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    started = time.perf_counter()
    with (
        partial.open("wb") as sink,
        gzip.GzipFile(
            filename=target.with_suffix("").name,
            mode="wb",
            fileobj=sink,
            compresslevel=GZIP_LEVEL,
            mtime=0,
        ) as packed,
    ):
        packed.write((",".join(table.column_names) + "\n").encode("utf-8"))
        for offset in range(0, rows, WRITE_CHUNK_ROWS):
            pcsv.write_csv(table.slice(offset, WRITE_CHUNK_ROWS), packed, options)
            done = min(offset + WRITE_CHUNK_ROWS, rows)
            elapsed = time.perf_counter() - started
            _progress(f"writing {target.name}: {done:,}/{rows:,} rows, {elapsed:.0f} s")
    partial.replace(target)
    _progress_done()


def _progress(message: str) -> None:
    sys.stderr.write(f"\r{message}\033[K")
    sys.stderr.flush()


def _progress_done() -> None:
    sys.stderr.write("\n")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="recording directory to write")
    parser.add_argument(
        "--plates",
        type=int,
        default=300,
        help="plates in the store, a multiple of 30 (default 300)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=1.0,
        help="store time the recording spans, in hours (default 1)",
    )
    parser.add_argument(
        "--shoppers", type=int, default=30, help="shoppers over the span (default 30)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.hours <= 0 or args.shoppers <= 0:
        print(
            f"error: --hours is {args.hours} and --shoppers is {args.shoppers}; "
            "both must be positive",
            file=sys.stderr,
        )
        return 2
    try:
        store = tiled_store(args.plates)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    duration_s = args.hours * 3600.0
    plans = shopper_plans(
        store, args.shoppers, duration_s, np.random.default_rng([args.seed, 7])
    )
    takes = sum(isinstance(a, Take) for plan in plans for a in plan.actions)
    print(
        f"store: {len(store.plates)} plates on {len(store.plates) // 30} gondolas, "
        f"{len(store.planogram)} facings; {len(plans)} shoppers with {takes} takes",
        file=sys.stderr,
    )

    print("rendering with walkout.sim.render ...", file=sys.stderr)
    rendered = render(store, plans, args.seed)
    recording = rendered.recording
    weights = recording.weights
    print(
        f"rendered {len(weights):,} readings over {weights.time_span[1]:.0f} s, "
        f"{len(recording.poses or [])} pose rows in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )

    # write_recording writes everything but the readings, which follow in
    # slices so that progress shows while the large file is compressed.
    args.out.mkdir(parents=True, exist_ok=True)
    table = weights_table(weights)
    recording.weights = replace(
        weights,
        t=weights.t[:0],
        plate=weights.plate[:0],
        g=weights.g[:0],
    )
    write_recording(recording, args.out, gzip_weights=True)
    write_weights_with_progress(table, args.out / WEIGHTS_FILE)
    size_mb = (args.out / WEIGHTS_FILE).stat().st_size / 1e6
    print(
        f"wrote {args.out} ({WEIGHTS_FILE} {size_mb:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
