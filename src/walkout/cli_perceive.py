"""``walkout perceive``: run camera perception on a recording and write poses.csv."""

from __future__ import annotations

import logging
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

from walkout.perception.recognition.errors import ModelFileError
from walkout.recording.errors import RecordingError

logger = logging.getLogger(__name__)
console = Console()


def _parse_camera_map(text: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        video_id, sep, calibration_id = item.partition("=")
        if not sep or not video_id or not calibration_id:
            raise typer.BadParameter(
                f"invalid camera map entry {item!r}; write VIDEO=CALIBRATION, "
                "for example 3=5,5=9"
            )
        mapping[video_id.strip()] = calibration_id.strip()
    return mapping


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
        typer.Option(help="Process only the first SECONDS of each video."),
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
        console.print(
            f"[bold red]error:[/] perception needs the perception extra ({error}); "
            "install it with: pip install 'walkout[perception]'",
            soft_wrap=True,
        )
        raise typer.Exit(2) from error

    mapping = _parse_camera_map(camera_map)
    columns = (
        TextColumn("[bold]perceive"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("frames", total=None, fps=0.0)

        def advance(done: int, total: int) -> None:
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
        except (RecordingError, ModelFileError) as error:
            bar.stop()
            console.print(
                f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False
            )
            raise typer.Exit(2) from error

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
        console.print(
            f"[bold red]error:[/] perception needs the perception extra ({error}); "
            "install it with: pip install 'walkout[perception]'",
            soft_wrap=True,
        )
        raise typer.Exit(2) from error
    try:
        report = perceive_video(
            video, out, overlay=overlay, stride=stride, max_seconds=seconds
        )
    except OSError as error:
        console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from error
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
