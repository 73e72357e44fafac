"""``walkout perceive``: run camera perception on a recording and write poses.csv."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from walkout.perception.outputs import (
    OutputPathError,
    check_video_target,
    check_writable_folder,
)
from walkout.perception.recognition.errors import ModelFileError
from walkout.recording.errors import RecordingError

logger = logging.getLogger(__name__)
console = Console()
error_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    error_console.print(
        f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False
    )
    return typer.Exit(2)


def _describe_os_error(error: OSError) -> str:
    """Return "FILE: reason" without Python's "[Errno N]" prefix where possible."""
    if error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def _stop(bar: Progress) -> None:
    # Stopping a bar that never started prints an empty line.
    if bar.live.is_started:
        bar.stop()


def _parse_camera_map(text: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        video_id, sep, calibration_id = item.partition("=")
        video_id, calibration_id = video_id.strip(), calibration_id.strip()
        if not sep or not video_id or not calibration_id:
            raise typer.BadParameter(
                f"invalid camera map entry {item!r}; write VIDEO=CALIBRATION, "
                "for example 3=5,5=9",
                param_hint="--camera-map",
            )
        if video_id in mapping:
            raise typer.BadParameter(
                f"video {video_id} is mapped twice ({video_id}={mapping[video_id]} "
                f"and {item}). Give each video one calibration",
                param_hint="--camera-map",
            )
        mapping[video_id] = calibration_id
    return mapping


def _check_seconds(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(
            f"{value} is not a positive number of seconds. Pass for example "
            "--seconds 10, or leave it out to process the whole videos"
        )
    return value


def perceive(
    recording: Annotated[
        Path | None,
        typer.Argument(
            help="Recording directory with store.json and video/ (omit with --video)."
        ),
    ] = None,
    overlay: Annotated[
        Path | None,
        typer.Option(help="Write an MP4 with plates, skeletons and track ids here."),
    ] = None,
    camera_map: Annotated[
        str,
        typer.Option(
            help="Video camera id to calibration id, e.g. '3=5,5=9', for footage "
            "numbered unlike its calibration; unlisted ids map to themselves."
        ),
    ] = "",
    seconds: Annotated[
        float | None,
        typer.Option(
            help="Process only the first SECONDS of each video (a positive number).",
            callback=_check_seconds,
        ),
    ] = None,
    vision: Annotated[
        bool,
        typer.Option(
            "--vision/--no-vision",
            help="Recognise products in hands at shelves and write vision.csv "
            "(needs products with a vision_class and the recogniser model).",
        ),
    ] = True,
    video: Annotated[
        Path | None,
        typer.Option(
            help="Track people in one video without a store or calibration, in "
            "image coordinates; writes OUT/tracks.csv."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output directory for --video."),
    ] = None,
    stride: Annotated[
        int,
        typer.Option(min=1, help="With --video, process every STRIDE-th frame."),
    ] = 1,
) -> None:
    """Detect people in the recording's videos, track them and write poses.csv.

    With --video, track people in one uncalibrated video in image
    coordinates and write tracks.csv (frame, t, track, joint, x_px, y_px,
    score) instead.
    """
    if video is not None:
        if recording is not None or out is None:
            raise typer.BadParameter(
                "--video needs --out DIR and no recording argument, for example "
                "walkout perceive --video clip.mp4 --out tracks/"
            )
        _perceive_video(video, out, overlay, seconds, stride)
        return
    if recording is None:
        raise typer.BadParameter(
            "missing the recording directory; pass REC, or --video CLIP --out DIR"
        )
    try:
        from walkout.perception.perceive import perceive as run_perception
    except ImportError as error:
        raise _fail(
            f"perception needs the perception extra ({error}); "
            "install it with: pip install 'walkout[perception]'"
        ) from error

    mapping = _parse_camera_map(camera_map)
    columns = (
        TextColumn("[bold]perceive"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeRemainingColumn(),
    )
    # The bar starts with the first frame, so input errors print without it.
    bar = Progress(*columns, console=error_console)
    task = bar.add_task("frames", total=None, fps=0.0)

    def advance(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = done / elapsed if elapsed > 0 else 0.0
        bar.update(task, completed=done, total=total, fps=rate)

    try:
        report = run_perception(
            recording,
            overlay=overlay,
            progress=advance,
            calibration_of=mapping,
            max_seconds=seconds,
            vision=vision,
        )
    except ModelFileError as error:
        _stop(bar)
        raise _fail(
            f"{error}. Pass --no-vision to track people without product recognition"
        ) from error
    except (RecordingError, OutputPathError) as error:
        _stop(bar)
        raise _fail(str(error)) from error
    except OSError as error:
        _stop(bar)
        raise _fail(
            f"{_describe_os_error(error)}. Nothing half-written was left; check "
            "free space and permissions and run again"
        ) from error
    _stop(bar)

    for warning in report.warnings:
        error_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    for camera_id, lost in sorted(report.ended_early.items()):
        error_console.print(
            f"[yellow]warning:[/] camera {camera_id}: the video ended early or "
            f"is damaged. {lost} frames could not be read",
            soft_wrap=True,
            highlight=False,
        )
    console.print(
        f"{report.frames} frames from cameras {', '.join(report.cameras)} in "
        f"{report.seconds:.1f} s ({report.frames_per_second:.1f} frames/s, "
        f"pose alone {report.pose_frames_per_second:.1f} frames/s)"
    )
    lifting = report.lifting
    console.print(
        f"{report.detections} person detections; joints triangulated "
        f"{lifting.triangulated}, single-view {lifting.single_view} "
        f"(on a plate {lifting.on_plate})"
    )
    console.print(
        f"Wrote {report.pose_rows} rows to {recording / 'poses.csv'}; "
        f"tracks: {', '.join(report.tracks) or 'none'}"
    )
    if report.vision_written:
        console.print(
            f"Wrote {report.vision_rows} rows to {recording / 'vision.csv'} "
            f"from {report.hand_crops} hand crops"
        )
    elif vision:
        console.print("No vision.csv: no product has a recogniser vision_class")
    console.print(
        f"Track merges {len(report.merges)}, re-identifications "
        f"{len(report.reidentifications)}"
    )
    for birth in report.entry_births:
        console.print(
            f"track {birth.track} born in entry zone {birth.zone} at t={birth.t:.2f}"
        )
    if overlay is not None:
        console.print(f"Wrote overlay video to {overlay}")


def _perceive_video(
    video: Path, out: Path, overlay: Path | None, seconds: float | None, stride: int
) -> None:
    try:
        from walkout.perception.image_tracks import perceive_video
    except ImportError as error:
        raise _fail(
            f"perception needs the perception extra ({error}); "
            "install it with: pip install 'walkout[perception]'"
        ) from error
    if out.exists() and not out.is_dir():
        raise _fail(
            f"--out {out}: is a file, but tracks.csv is written into a folder. "
            "Give a folder path, for example --out tracks/"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        check_writable_folder(out, fix="Choose a writable folder with --out.")
        if overlay is not None:
            check_video_target(overlay, option="--overlay")
        report = perceive_video(
            video, out, overlay=overlay, stride=stride, max_seconds=seconds
        )
    except OutputPathError as error:
        raise _fail(str(error)) from error
    except OSError as error:
        raise _fail(_describe_os_error(error)) from error
    console.print(
        f"{report.frames} frames of {video} ({report.width}x{report.height}, "
        f"{report.fps:.1f} fps, stride {stride}) in {report.seconds:.1f} s "
        f"({report.frames_per_second:.1f} frames/s, pose alone "
        f"{report.pose_frames_per_second:.1f} frames/s)"
    )
    console.print(
        f"{report.detections} person detections; wrote {report.rows} rows to "
        f"{out / 'tracks.csv'}; tracks: {', '.join(report.tracks) or 'none'}"
    )
    if overlay is not None:
        console.print(f"Wrote overlay video to {overlay}")
