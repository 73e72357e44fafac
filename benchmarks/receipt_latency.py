"""Measure the time from a shopper's exit to their receipt on the visit's event stream.

The built-in store gets ``--shoppers`` shoppers entering evenly over
``--span`` seconds, with 3 to 6 takes each, as in
``make_large_recording.py``. The session is played into ``walkout serve`` on
127.0.0.1 (SQLite, the ledger provider) at real-time pace. A batch of one
second of sensor data is sent when the wall clock reaches the batch's end,
and each gate row when it reaches the row's time. Every visit's server-sent event
stream is open from its entry on. Per visit, the latency is the wall time
from the start of the exit call of its last track to the arrival of its
``receipt`` event. Visits that fusion sends to review wait for a reviewer,
so they are counted apart and left out of the percentiles.

As a reference, the same run times plain authenticated round trips of
``GET /accounts/me`` after the session and prints the ratio.

Usage::

    python benchmarks/receipt_latency.py [--shoppers 30] [--span 150]
        [--seed 1] [--poll-s S] [--settle-margin-s S] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from make_large_recording import shopper_plans

from walkout.live.detection import group_margin_s, plate_margin_s
from walkout.recording import write_recording
from walkout.recording.model import Recording
from walkout.sensing.detector import DetectorParams
from walkout.sim import builtin_store, render

# The service process, the HTTP clients and the batch schedule are the
# end-to-end tests' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from e2e_client import StoreApi, VisitEvents
from e2e_feed import schedule, tracks_by_account
from e2e_service import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ServiceProcess,
    free_port,
    service_environment,
)

TARGET_P99_S = 5.0
BATCH_S = 1.0
# Steady readings after the recording, so that the last exits can settle.
TAIL_S = 25.0
REFERENCE_REQUESTS = 20
PROGRESS_EVERY_S = 10.0
# How long to wait for the last receipts after the last batch.
DRAIN_TIMEOUT_S = 60.0


@dataclass
class Visit:
    account: str
    visit_id: str
    headers: dict[str, str]
    events: VisitEvents
    exit_started: float | None = None
    exit_wall: float | None = None
    exit_t: float | None = None


@dataclass
class Results:
    shoppers: int
    span_s: float
    seed: int
    sensor_s: float
    poll_s: float
    settle_margin_s: float
    settle_delay_s: float
    latencies_s: dict[str, float] = field(default_factory=dict)
    issue_after_exit_s: dict[str, float] = field(default_factory=dict)
    push_after_issue_s: dict[str, float] = field(default_factory=dict)
    in_review: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    max_lag_s: float = 0.0
    get_round_trips_s: list[float] = field(default_factory=list)


def build_recording(shoppers: int, span_s: float, seed: int) -> Recording:
    """Render ``shoppers`` shoppers entering evenly over ``span_s`` seconds."""
    store = builtin_store()
    plans = shopper_plans(
        store, shoppers, span_s + 240.0, np.random.default_rng([seed, 7])
    )
    step = span_s / max(len(plans) - 1, 1)
    for number, plan in enumerate(plans):
        plan.enter_t = round(2.0 + number * step, 2)
    return render(store, plans, seed).recording


def settle_delay_s(settle_margin_s: float) -> float:
    """Return the sensor seconds after an exit at which the margin rule settles."""
    params = DetectorParams()
    return plate_margin_s(params) + group_margin_s(params) + settle_margin_s


def progress(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def sign_up_shoppers(
    api: StoreApi, recording: Recording, run_id: str
) -> dict[str, dict[str, str]]:
    shoppers = {}
    for account in tracks_by_account(recording):
        headers = api.sign_up(f"bench-{run_id}-{account}@example.com")
        api.add_card(headers)
        shoppers[account] = headers
    return shoppers


def play(
    api: StoreApi,
    store_id: str,
    gate: dict[str, str],
    recording: Recording,
    shoppers: dict[str, dict[str, str]],
    results: Results,
) -> dict[str, Visit]:
    """Send the schedule at real-time pace; return the visits by account."""
    tracks = tracks_by_account(recording)
    track_account = {
        track: account for account, names in tracks.items() for track in names
    }
    steps = schedule(recording, BATCH_S, TAIL_S)
    first_t, last_t = steps[0].t, steps[-1].t
    visits: dict[str, Visit] = {}
    origin = time.monotonic() - first_t
    next_progress = time.monotonic() + PROGRESS_EVERY_S
    for step in steps:
        delay = origin + step.t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            results.max_lag_s = max(results.max_lag_s, -delay)
        if step.gate is not None and step.gate.action == "enter":
            account = str(step.gate.account)
            entry_pass = api.entry_pass(
                shoppers[account], store_id, len(tracks[account])
            )
            body = api.enter(
                gate, store_id, entry_pass["token"], tracks[account], step.gate.t
            )
            events = VisitEvents(api.base_url, body["id"], shoppers[account]).start()
            visits[account] = Visit(account, body["id"], shoppers[account], events)
        elif step.gate is not None:
            visit = visits[track_account[step.gate.track]]
            started, wall = time.monotonic(), time.time()
            reply = api.exit(gate, store_id, step.gate)
            if reply["visit_ended"]:
                visit.exit_started, visit.exit_wall = started, wall
                visit.exit_t = step.gate.t
        elif step.batch is not None:
            api.send_batch(
                gate, store_id, f"bench:{step.batch.index}", step.batch.payload
            )
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_EVERY_S
            report_progress(step.t - first_t, last_t - first_t, visits, results)
    return visits


def report_progress(
    elapsed: float, total: float, visits: dict[str, Visit], results: Results
) -> None:
    exited = sum(1 for visit in visits.values() if visit.exit_started is not None)
    receipts = sum(1 for visit in visits.values() if visit.events.receipt_at)
    review = sum(
        1 for visit in visits.values() if "in_review" in visit.events.statuses()
    )
    progress(
        f"sensor time {elapsed:5.0f}/{total:.0f} s: {len(visits)} entered, "
        f"{exited} left, {receipts} receipts, {review} in review, "
        f"max lag {results.max_lag_s:.2f} s"
    )


def drain(api: StoreApi, gate: dict[str, str], visits: dict[str, Visit]) -> None:
    """Wait until every visit has a receipt or waits in review."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        pending = [
            visit
            for visit in visits.values()
            if visit.events.receipt_at is None
            and api.get(f"/visits/{visit.visit_id}", gate)["status"] != "in_review"
        ]
        if not pending:
            return
        time.sleep(0.5)


def collect(visits: dict[str, Visit], results: Results) -> None:
    for account, visit in sorted(visits.items()):
        events = visit.events
        if events.receipt_at is not None and visit.exit_started is not None:
            receipt = next(data for name, data, _ in events.events if name == "receipt")
            issued = datetime.fromisoformat(receipt["issued_at"]).timestamp()
            results.latencies_s[account] = events.receipt_at - visit.exit_started
            assert visit.exit_wall is not None
            results.issue_after_exit_s[account] = issued - visit.exit_wall
            pushed_wall = visit.exit_wall + results.latencies_s[account]
            results.push_after_issue_s[account] = pushed_wall - issued
        elif "in_review" in events.statuses():
            results.in_review.append(account)
        else:
            results.unfinished.append(account)


def time_round_trips(api: StoreApi, headers: dict[str, str]) -> list[float]:
    times = []
    for _ in range(REFERENCE_REQUESTS):
        started = time.perf_counter()
        api.get("/accounts/me", headers)
        times.append(time.perf_counter() - started)
    return times


def print_results(results: Results) -> None:
    latencies = list(results.latencies_s.values())
    get_s = statistics.median(results.get_round_trips_s)
    print(
        f"{results.shoppers} shoppers over {results.span_s:g} s, seed {results.seed}; "
        f"{results.sensor_s:.0f} s of sensor data at real-time pace "
        f"(max lag {results.max_lag_s:.2f} s)"
    )
    print(
        f"settings: visit_events_poll_s {results.poll_s:g}, settle_margin_s "
        f"{results.settle_margin_s:g}; the margin rule settles "
        f"{results.settle_delay_s:.1f} sensor seconds after an exit"
    )
    print(
        f"visits with a receipt: {len(latencies)}; needing review: "
        f"{len(results.in_review)}; without an outcome: {len(results.unfinished)}"
    )
    if latencies:
        p50, p90, p99 = (percentile(latencies, q) for q in (50, 90, 99))
        print(
            f"exit to receipt event: median {p50:.2f} s, p90 {p90:.2f} s, "
            f"p99 {p99:.2f} s (min {min(latencies):.2f}, max {max(latencies):.2f})"
        )
        issue = list(results.issue_after_exit_s.values())
        push = list(results.push_after_issue_s.values())
        print(
            f"  exit to receipt issued (issued_at): median "
            f"{statistics.median(issue):.2f} s, max {max(issue):.2f} s"
        )
        print(
            f"  receipt issued to event received: median "
            f"{statistics.median(push):.2f} s, max {max(push):.2f} s"
        )
        print(
            f"GET /accounts/me round trip: median {get_s * 1000:.1f} ms of "
            f"{len(results.get_round_trips_s)}; median latency / round trip = "
            f"{p50 / get_s:.0f}, p99 / round trip = {p99 / get_s:.0f}"
        )
        met = "met" if p99 <= TARGET_P99_S else "missed"
        print(f"target p99 <= {TARGET_P99_S:g} s: {met}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=30, help="shoppers (30)")
    parser.add_argument(
        "--span",
        type=float,
        default=150.0,
        help="seconds over which the shoppers enter (150)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument(
        "--poll-s",
        type=float,
        default=None,
        help="WALKOUT_VISIT_EVENTS_POLL_S for the service (default: its own)",
    )
    parser.add_argument(
        "--settle-margin-s",
        type=float,
        default=None,
        help="WALKOUT_SETTLE_MARGIN_S for the service (default: its own)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--log", type=Path, help="keep the service log here (default: discarded)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.shoppers < 1 or args.span <= 0:
        progress("error: --shoppers and --span must be positive")
        return 2
    from walkout.service.settings import Settings

    defaults = Settings()
    poll_s = args.poll_s if args.poll_s is not None else defaults.visit_events_poll_s
    margin_s = (
        args.settle_margin_s
        if args.settle_margin_s is not None
        else defaults.settle_margin_s
    )

    progress(f"rendering {args.shoppers} shoppers over {args.span:g} s ...")
    recording = build_recording(args.shoppers, args.span, args.seed)
    span = recording.weights.time_span
    results = Results(
        shoppers=args.shoppers,
        span_s=args.span,
        seed=args.seed,
        sensor_s=span[1] - span[0] + TAIL_S,
        poll_s=poll_s,
        settle_margin_s=margin_s,
        settle_delay_s=settle_delay_s(margin_s),
    )

    with tempfile.TemporaryDirectory(prefix="receipt-latency-") as folder:
        root = Path(folder)
        write_recording(recording, root / "recording")
        settings = {
            "visit_events_poll_s": str(poll_s),
            "settle_margin_s": str(margin_s),
        }
        database = f"sqlite+pysqlite:///{root / 'walkout.db'}"
        environment = service_environment(root / "data", database, **settings)
        port = free_port()
        log = args.log or root / "serve.log"
        service = ServiceProcess(
            ["--port", str(port), "--store", str(root / "recording")],
            environment,
            log,
            port=port,
        )
        api = StoreApi(f"http://127.0.0.1:{port}")
        try:
            service.wait_healthy()
            admin = api.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
            store_id = recording.store.info.id
            gate = api.add_staff(admin, store_id, "bench-gate@example.com")
            progress(f"signing up {args.shoppers} shoppers ...")
            shoppers = sign_up_shoppers(api, recording, "1")
            progress(
                f"playing {results.sensor_s:.0f} s of sensor data at real-time pace"
            )
            visits = play(api, store_id, gate, recording, shoppers, results)
            progress("waiting for the last receipts ...")
            drain(api, gate, visits)
            collect(visits, results)
            results.get_round_trips_s = time_round_trips(api, admin)
        finally:
            api.close()
            service.stop()

    print_results(results)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
