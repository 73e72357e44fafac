"""The ``walkout`` command. Only the command-line modules (``cli*.py``) print."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from walkout.cli_perceive import perceive
from walkout.cli_serve import serve
from walkout.cli_vision import vision_app
from walkout.eval.accuracy import RunScore, run_accuracy, summarise_runs
from walkout.eval.scoring import RecordingScore, score_recording, summarise
from walkout.recording import (
    Receipt,
    Recording,
    RecordingError,
    Store,
    read_receipts,
    read_recording,
    write_receipts,
)
from walkout.sensing.model import ShelfEvent

app = typer.Typer(
    name="walkout",
    help="Cashierless store platform: store recordings in, receipts out.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Turn third-party store data into a walkout recording.")
app.add_typer(import_app, name="import")
bench_app = typer.Typer(help="Measure accuracy on simulated stores.")
app.add_typer(bench_app, name="bench")
app.command()(perceive)
app.command()(serve)
app.add_typer(vision_app, name="vision")

console = Console()
errors = Console(stderr=True)

EXIT_BAD_INPUT = 2


def _fail(message: str) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn errors caused by bad input into one printed line and exit code 2."""
    from walkout.importers.autocheckout import AutocheckoutImportError

    try:
        yield
    except (RecordingError, AutocheckoutImportError) as error:
        _fail(str(error))
    except OSError as error:
        # Files the command writes: a folder in the way, no permission, a
        # full disk. Reading errors of recordings arrive as RecordingError.
        target = error.filename or "output"
        _fail(f"{target}: cannot write: {error.strerror or error}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


PLOT_FORMATS = (".png", ".pdf", ".svg")


def _check_output_file(out: Path) -> None:
    """Fail before any work when ``out`` cannot be a file."""
    if out.is_dir():
        _fail(f"{out}: is a folder; name a file to write, such as {out}/receipts.json")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                _fail(f"{out}: cannot write: {parent} is a file, not a folder")
            break


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log decisions at INFO level.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# --- replay ----------------------------------------------------------------


def _detect_with_progress(recording: Recording) -> list[ShelfEvent]:
    from walkout.sensing.detector import detect_events

    plates = sum(1 for _ in recording.weights.series())
    with _progress() as progress:
        task = progress.add_task("Detecting shelf events", total=plates)
        return detect_events(
            recording.weights,
            recording.store,
            progress=lambda: progress.advance(task),
        )


def _replay(recording: Recording) -> list[Receipt]:
    from walkout.fusion import replay

    events = _detect_with_progress(recording)
    with errors.status(f"Assigning {len(events)} shelf events to shoppers"):
        result = replay(recording, events=events)
    return result.receipts


def _read(path: Path) -> Recording:
    with errors.status(f"Reading {path}"):
        return read_recording(path)


def _print_receipts(receipts: Sequence[Receipt], store: Store) -> None:
    table = Table(title="Receipts", show_lines=True)
    table.add_column("account", overflow="fold")
    table.add_column("items")
    table.add_column("total", justify="right")
    table.add_column("review")
    currency = store.info.currency
    for receipt in receipts:
        lines = []
        for line in receipt.items:
            product = store.products.get(line.sku)
            name = product.name if product else line.sku
            flag = f" [yellow]({line.review_reason})[/]" if line.needs_review else ""
            lines.append(f"{line.qty} x {name} @ {line.unit_price}{flag}")
        table.add_row(
            receipt.account,
            "\n".join(lines) or "[dim]nothing[/]",
            f"{receipt.total} {currency}",
            "[yellow]needs review[/]" if receipt.needs_review else "ok",
        )
    console.print(table)


@app.command()
def replay(
    recording: Annotated[Path, typer.Argument(help="Recording directory.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write receipts.json.")
    ] = Path("receipts.json"),
) -> None:
    """Replay a store recording and write one receipt per account."""
    _check_output_file(out)
    with _user_errors():
        loaded = _read(recording)
        receipts = _replay(loaded)
        write_receipts(receipts, out)
    _print_receipts(receipts, loaded.store)
    console.print(f"Wrote {_plural(len(receipts), 'receipt')} to {out}")


# --- evaluate --------------------------------------------------------------


def _print_score(score: RecordingScore, store: Store | None = None) -> None:
    table = Table(title="Per-account differences")
    table.add_column("account", overflow="fold")
    table.add_column("missing (false negatives)")
    table.add_column("extra (false positives)")

    def describe(items: dict[str, int]) -> str:
        names = []
        for sku, qty in items.items():
            product = store.products.get(sku) if store else None
            names.append(
                f"{qty} x {product.name} ({sku})" if product else f"{qty} x {sku}"
            )
        return ", ".join(names)

    for diff in score.accounts:
        if diff.exact:
            table.add_row(diff.account, "[green]exact[/]", "")
            continue
        table.add_row(diff.account, describe(diff.missing), describe(diff.extra))
    console.print(table)
    console.print(
        f"TP={score.tp} FP={score.fp} FN={score.fn} "
        f"exact={score.exact_accounts}/{len(score.accounts)} "
        f"review={score.review_visits}/{score.visits}"
    )
    console.print(f"f1={score.f1:.4f}")


@app.command()
def evaluate(
    recording: Annotated[Path, typer.Argument(help="Recording with truth.json.")],
    receipts: Annotated[Path, typer.Argument(help="receipts.json from replay.")],
) -> None:
    """Score receipts against a recording's truth (mean F1 as the format defines)."""
    with _user_errors():
        loaded = _read(recording)
        if loaded.truth is None:
            _fail(f"{recording}: has no truth.json; evaluation needs the true receipts")
        predicted = read_receipts(receipts)
    for receipt in predicted:
        for line in receipt.items:
            if line.sku not in loaded.store.products:
                _fail(
                    f"{receipts}: account {receipt.account!r} has SKU {line.sku!r}, "
                    f"which is not in {recording}/store.json; were these receipts "
                    "replayed from another recording?"
                )
    _print_score(score_recording(loaded.truth, predicted), loaded.store)


# --- plot ------------------------------------------------------------------


@app.command()
def plot(
    recording: Annotated[Path, typer.Argument(help="Recording directory.")],
    plate: Annotated[
        list[str], typer.Option("--plate", "-p", help="Plate id; repeat for more.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
) -> None:
    """Draw plates' weight traces with the detected shelf events marked."""
    from walkout.plots import plot_plate_trace, plot_plates
    from walkout.sensing.detector import DetectorParams, detect_plate_changes

    _check_output_file(out)
    if out.suffix.lower() not in PLOT_FORMATS:
        _fail(
            f"{out}: unsupported picture format {out.suffix or '(none)'!r}; "
            f"name the file with one of {', '.join(PLOT_FORMATS)}"
        )
    with _user_errors():
        loaded = _read(recording)
        unknown = [p for p in plate if p not in loaded.store.plates]
        if unknown:
            _fail(
                f"{recording}: plate {unknown[0]!r} is not in store.json; "
                "plate ids look like "
                f"{next(iter(loaded.store.plates))!r}"
            )
        series = [loaded.weights.for_plate(plate_id) for plate_id in plate]
        empty = [s.plate for s in series if len(s.t) == 0]
        if empty:
            _fail(f"{recording}: plate {empty[0]!r} has no readings in weights.csv")
    params = DetectorParams()
    changes = {s.plate: detect_plate_changes(s, params) for s in series}
    with _user_errors():
        out.parent.mkdir(parents=True, exist_ok=True)
        if len(series) == 1:
            plot_plate_trace(series[0], changes[series[0].plate], out)
        else:
            plot_plates(series, changes, out)
    found = sum(len(c) for c in changes.values())
    console.print(f"Wrote {out} ({found} changes marked)")


# --- import ----------------------------------------------------------------


@import_app.command("autocheckout")
def import_autocheckout(
    src: Annotated[
        Path, typer.Argument(help="A NanoStore test-case folder with weight_csv/.")
    ],
    out: Annotated[Path, typer.Argument(help="Recording directory to write.")],
    store_meta: Annotated[
        Path | None,
        typer.Option(help="store_meta folder; default: SRC/../store_meta."),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="Hand labels (v14.json); default: SRC/../ground_truth_cmu."),
    ] = None,
) -> None:
    """Import an AiFi NanoStore (AutoCheckout 2020) test case as a recording."""
    from walkout.importers import autocheckout

    with _user_errors(), _progress() as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = autocheckout.import_autocheckout(
            src, out, store_meta=store_meta, labels=labels, progress=report
        )
    _print_import_report(result)
    console.print(f"Wrote recording to {out}")


IMPORT_LIST_LIMIT = 5
"""Items of a list shown in the import summary; the log has them all."""


def _print_import_report(report: object) -> None:
    table = Table(title="Import", show_header=False)
    for name, value in vars(report).items():
        if isinstance(value, dict):
            value = f"{sum(value.values())} on {len(value)} plates" if value else "none"
        elif isinstance(value, list | tuple):
            shown = [str(v) for v in value[:IMPORT_LIST_LIMIT]]
            if len(value) > IMPORT_LIST_LIMIT:
                shown.append(f"... and {len(value) - IMPORT_LIST_LIMIT} more")
            value = "\n".join(shown) or "none"
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)


# --- simulate and demo -----------------------------------------------------


def _scenario_names() -> list[str]:
    from walkout.sim import SCENARIOS

    return sorted(SCENARIOS)


def _check_scenario(name: str) -> str:
    names = _scenario_names()
    if name == "list":
        from walkout.sim import SCENARIOS

        for scenario in names:
            console.print(f"{scenario:15} {SCENARIOS[scenario].description}")
        raise typer.Exit(0)
    if name not in names:
        raise typer.BadParameter(f"unknown scenario {name!r}; choose one of {names}")
    return name


def _prepare_output_dir(out: Path, *, replace: bool) -> None:
    """Refuse to mix a new recording with the files of an older one."""
    if out.exists() and not out.is_dir():
        _fail(f"{out}: is a file; name a folder for the recording")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / "store.json").is_file():
        _fail(f"{out}: folder is not empty; name a new or empty folder")
    if not replace:
        _fail(
            f"{out}: already holds a recording; pass --force to replace it "
            "or name a new folder"
        )
    # Files replay and evaluate wrote for the old recording would no longer
    # match the new one.
    for stale in ("receipts.json", "poses.csv", "poses.csv.gz", "vision.csv"):
        (out / stale).unlink(missing_ok=True)


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="Recording directory to write.")],
    scenario: Annotated[
        str,
        typer.Option(
            help="Scenario name; `walkout simulate --scenario list` lists them.",
            callback=_check_scenario,
        ),
    ] = "single",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same store.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a recording already in OUT.")
    ] = False,
) -> None:
    """Simulate shoppers in the built-in store and write a recording with truth."""
    from walkout.sim import simulate_to

    _prepare_output_dir(out, replace=force)
    with (
        _user_errors(),
        errors.status(f"Simulating scenario {scenario!r} with seed {seed}"),
    ):
        recording = simulate_to(out, scenario, seed)
    _print_simulation(recording, out)


def _print_simulation(recording: Recording, out: Path) -> None:
    start, end = recording.weights.time_span
    accounts = {gate.account for gate in recording.gates if gate.account}
    console.print(
        f"Wrote {out}: {len(recording.store.plates)} plates, "
        f"{len(recording.weights):,} load-cell readings over {end - start:.0f} s, "
        f"{_plural(len(accounts), 'account')}"
    )


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option(help="Where to write the simulated recording.")
    ] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 7,
) -> None:
    """Simulate a busy spell in the built-in store, replay it and score it."""
    from walkout.sim import simulate_to

    # The demo owns its folder and rewrites everything in it on each run.
    _prepare_output_dir(out, replace=True)
    with (
        _user_errors(),
        errors.status("Simulating shoppers in the built-in store"),
    ):
        recording = simulate_to(out, "demo", seed)
    _print_simulation(recording, out)

    loaded = _read(out)
    receipts = _replay(loaded)
    with _user_errors():
        write_receipts(receipts, out / "receipts.json")
    _print_receipts(receipts, loaded.store)

    assert loaded.truth is not None, "the simulator always writes truth.json"
    score = score_recording(loaded.truth, receipts)
    _print_score(score, loaded.store)
    summary = summarise([score])
    console.print(
        f"Accuracy: F1 {summary.mean_f1:.3f}, exact receipts "
        f"{summary.exact_receipt_rate:.0%}, visits sent to review "
        f"{summary.review_rate:.0%}"
    )


# --- bench -----------------------------------------------------------------


@bench_app.command("accuracy")
def bench_accuracy(
    seeds: Annotated[int, typer.Option(help="Seeds per scenario.", min=1)] = 20,
    first_seed: Annotated[
        int, typer.Option(help="First seed; the tests use seeds below 1000.")
    ] = 1000,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Scenario to run; repeat for more. Default: all."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes; default: one per core.", min=1)
    ] = max(1, os.cpu_count() or 1),
    vision: Annotated[
        str,
        typer.Option(
            help="Replay with the simulated vision observations ('on'), without "
            "them ('off'), or both ways side by side ('both')."
        ),
    ] = "on",
) -> None:
    """Run every scenario over many seeds and print F1, exact and review rates."""
    modes = {"on": (True,), "off": (False,), "both": (False, True)}
    if vision not in modes:
        raise typer.BadParameter(f"--vision must be on, off or both, got {vision!r}")
    names = [_check_scenario(name) for name in scenario] if scenario else None
    names = names or _scenario_names()
    seed_range = range(first_seed, first_seed + seeds)

    with _progress() as progress:
        task = progress.add_task(
            "Simulating and replaying", total=len(names) * seeds * len(modes[vision])
        )

        def advance(_: RunScore) -> None:
            progress.advance(task)

        runs = run_accuracy(
            names,
            seed_range,
            workers=workers,
            vision=modes[vision],
            on_result=advance,
        )

    title = f"Accuracy over seeds {first_seed}..{first_seed + seeds - 1}"
    if vision == "both":
        console.print(_vision_comparison_table(runs, title))
    else:
        if vision == "off":
            title += ", without vision"
        console.print(_accuracy_table(runs, title))
    failures = [run for run in runs if run.score.f1 < 1.0]
    for run in failures[:20]:
        suffix = (
            "" if vision != "both" else f" (vision {'on' if run.vision else 'off'})"
        )
        console.print(f"F1 {run.score.f1:.3f}: {run.scenario} seed {run.seed}{suffix}")


def _accuracy_table(runs: Sequence[RunScore], title: str) -> Table:
    table = Table(title=title)
    for column in ("scenario", "runs", "mean F1", "exact receipts", "to review"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in summarise_runs(runs):
        summary = row.summary
        table.add_row(
            row.scenario,
            str(summary.recordings),
            f"{summary.mean_f1:.4f}",
            f"{summary.exact_receipt_rate:.1%}",
            f"{summary.review_rate:.1%}",
        )
    return table


def _vision_comparison_table(runs: Sequence[RunScore], title: str) -> Table:
    """Tabulate each scenario replayed on weights only and with vision."""
    weight_only = summarise_runs([run for run in runs if not run.vision])
    with_vision = summarise_runs([run for run in runs if run.vision])
    table = Table(title=f"{title}: weight only / with vision")
    columns = ("scenario", "runs", "mean F1", "exact receipts", "to review")
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for off_row, on_row in zip(weight_only, with_vision, strict=True):
        off, on = off_row.summary, on_row.summary
        table.add_row(
            off_row.scenario,
            str(off.recordings),
            f"{off.mean_f1:.4f} / {on.mean_f1:.4f}",
            f"{off.exact_receipt_rate:.1%} / {on.exact_receipt_rate:.1%}",
            f"{off.review_rate:.1%} / {on.review_rate:.1%}",
        )
    return table


# --- noise -----------------------------------------------------------------


@app.command()
def noise(
    recording: Annotated[Path, typer.Argument(help="Recording directory.")],
) -> None:
    """Measure load-cell noise, drift, spikes and neighbour coupling of a recording."""
    from walkout.sensing.noise_stats import measure_noise

    with _user_errors():
        loaded = _read(recording)
    with errors.status("Measuring plate noise"):
        stats = measure_noise(list(loaded.weights.series()), store=loaded.store)

    table = Table(title=f"Load-cell noise of {len(stats.plates)} live plates")
    table.add_column("quantity")
    table.add_column("p10", justify="right")
    table.add_column("median", justify="right")
    table.add_column("p90", justify="right")
    rows = [
        ("white noise sd (g)", stats.noise_sd_percentiles()),
        ("absolute drift (g/min)", stats.drift_percentiles()),
        ("unsettled share of time", stats.unsettled_percentiles()),
    ]
    for name, (p10, p50, p90) in rows:
        table.add_row(name, f"{p10:.3g}", f"{p50:.3g}", f"{p90:.3g}")
    console.print(table)
    sizes = sorted(stats.spike_sizes_g)
    median_spike = sizes[len(sizes) // 2] if sizes else float("nan")
    console.print(
        f"dead plates: {len(stats.dead_plates)}; spikes: "
        f"{stats.spikes_per_plate_min:.2f} per plate-minute, median size "
        f"{median_spike:.1f} g; sample interval {stats.sample_interval_s * 1000:.2f} ms"
        f" (sd {stats.interval_sd_s * 1000:.2f} ms)"
    )
    for shift in stats.neighbour_shifts:
        console.print(
            f"neighbour {shift.neighbour} moved {shift.shift_g:+.1f} g while "
            f"{shift.plate} changed {shift.change_g:+.1f} g ({shift.ratio:.1%})"
        )
