"""Measure replay speed against a plain single-threaded parse of weights.csv.gz.

Two measurements run on one recording:

(a) reference: ``pyarrow.csv.read_csv`` of the weights file alone, with
    ``ReadOptions(use_threads=False)`` and default type inference.
(b) replay: ``read_recording`` with all its checks, ``detect_events`` on
    every plate (threads over plates), the fusion engine's ``replay`` and
    writing receipts.json.

Each is run ``--repeat`` times, all reference runs first, and the best wall
time is kept. The table
shows wall times, readings per second and the ratio (b) / (a).

Usage::

    python benchmarks/replay_speed.py REC [--repeat N] [--json FILE]
        [--out RECEIPTS] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from walkout.fusion import replay
from walkout.recording import read_recording, write_receipts
from walkout.sensing.detector import detect_events

TARGET_READINGS_PER_S = 1_000_000
TARGET_RATIO = 3.0


@dataclass
class ReplayTimes:
    """Wall times in seconds of one replay, step by step."""

    read_s: float
    detect_s: float
    fuse_s: float
    write_s: float
    readings: int
    plates: int
    events: int
    receipts: int

    @property
    def total_s(self) -> float:
        return self.read_s + self.detect_s + self.fuse_s + self.write_s


@dataclass
class Results:
    recording: str
    weights_bytes: int
    reference_s: list[float] = field(default_factory=list)
    replays: list[ReplayTimes] = field(default_factory=list)


def weights_file(recording: Path) -> Path:
    """Return the recording's weights file, gzipped or plain."""
    for name in ("weights.csv.gz", "weights.csv"):
        if (recording / name).is_file():
            return recording / name
    raise SystemExit(f"error: {recording} has no weights.csv.gz or weights.csv")


def parse_reference(file: Path) -> tuple[float, int]:
    """Parse ``file`` with pyarrow on one thread and return the seconds and rows."""
    started = time.perf_counter()
    table = pcsv.read_csv(file, read_options=pcsv.ReadOptions(use_threads=False))
    elapsed = time.perf_counter() - started
    return elapsed, int(table.num_rows)


def run_replay(recording_dir: Path, receipts_file: Path) -> ReplayTimes:
    """Read, detect, fuse and write receipts, timing each step."""
    started = time.perf_counter()
    recording = read_recording(recording_dir)
    read_done = time.perf_counter()

    plates = 0

    def count_plate() -> None:
        nonlocal plates
        plates += 1

    events = detect_events(recording.weights, recording.store, progress=count_plate)
    detect_done = time.perf_counter()

    result = replay(recording, events=events)
    fuse_done = time.perf_counter()

    write_receipts(result.receipts, receipts_file)
    write_done = time.perf_counter()
    return ReplayTimes(
        read_s=read_done - started,
        detect_s=detect_done - read_done,
        fuse_s=fuse_done - detect_done,
        write_s=write_done - fuse_done,
        readings=len(recording.weights),
        plates=plates,
        events=len(events),
        receipts=len(result.receipts),
    )


def _timed_fresh(step: Callable[[], Any]) -> Any:
    # Collect garbage of the previous run first so that it is not charged here.
    gc.collect()
    return step()


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_table(results: Results) -> None:
    reference = min(results.reference_s)
    best = min(results.replays, key=lambda times: times.total_s)
    readings = best.readings
    rows = [
        ("(a) pyarrow parse, 1 thread", reference),
        ("(b) replay, total", best.total_s),
        ("    read_recording", best.read_s),
        ("    detect shelf events", best.detect_s),
        ("    fusion replay", best.fuse_s),
        ("    write receipts", best.write_s),
    ]
    print(
        f"recording {results.recording}: {readings:,} readings on {best.plates} "
        f"plates, weights file {results.weights_bytes / 1e6:.0f} MB, "
        f"{best.events} shelf events, {best.receipts} receipts"
    )
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, pyarrow {pa.__version__}, "
        f"best of {len(results.replays)}"
    )
    print(f"{'step':<32}{'wall s':>10}{'readings/s':>16}")
    for name, seconds in rows:
        rate = readings / seconds if seconds > 0 else float("inf")
        print(f"{name:<32}{seconds:>10.2f}{rate:>16,.0f}")
    ratio = best.total_s / reference
    rate = readings / best.total_s
    print(f"ratio (b) / (a): {ratio:.2f} (target at most {TARGET_RATIO:g})")
    print(f"replay readings/s: {rate:,.0f} (target at least {TARGET_READINGS_PER_S:,})")


def results_document(results: Results) -> dict[str, Any]:
    reference = min(results.reference_s)
    best = min(results.replays, key=lambda times: times.total_s)
    return {
        "recording": results.recording,
        "weights_bytes": results.weights_bytes,
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "pyarrow": pa.__version__,
        "python": platform.python_version(),
        "readings": best.readings,
        "plates": best.plates,
        "events": best.events,
        "receipts": best.receipts,
        "reference_s": results.reference_s,
        "replay_s": [times.total_s for times in results.replays],
        "best": {
            "reference_s": reference,
            "replay_s": best.total_s,
            "read_s": best.read_s,
            "detect_s": best.detect_s,
            "fuse_s": best.fuse_s,
            "write_s": best.write_s,
            "replay_readings_per_s": best.readings / best.total_s,
            "ratio": best.total_s / reference,
        },
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, help="recording directory")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each measurement (default 1)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--out",
        type=Path,
        help="write receipts.json here (default: a temporary file, deleted)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfile statistics of one extra replay run to this file",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.repeat < 1:
        print(f"error: --repeat is {args.repeat}; use 1 or more", file=sys.stderr)
        return 2
    file = weights_file(args.recording)
    results = Results(str(args.recording), file.stat().st_size)

    with tempfile.TemporaryDirectory(prefix="walkout-bench-") as scratch:
        receipts_file = args.out or Path(scratch) / "receipts.json"
        # All reference runs come first. A replay frees memory on worker
        # threads, which can leave a later reference parse more page faults
        # and so make the ratio look better than it is.
        for run in range(args.repeat):
            seconds, rows = _timed_fresh(lambda: parse_reference(file))
            results.reference_s.append(seconds)
            print(f"run {run + 1}: reference parse {seconds:.2f} s, {rows:,} rows")
        for run in range(args.repeat):
            times = _timed_fresh(lambda: run_replay(args.recording, receipts_file))
            results.replays.append(times)
            print(
                f"run {run + 1}: replay {times.total_s:.2f} s "
                f"(read {times.read_s:.2f}, detect {times.detect_s:.2f}, "
                f"fuse {times.fuse_s:.2f}, write {times.write_s:.2f})"
            )
        if args.profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(run_replay, args.recording, receipts_file)
            profiler.dump_stats(args.profile)
            print(f"wrote profile to {args.profile}")

    print()
    print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results_document(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
