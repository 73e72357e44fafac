"""Checks of output paths before long work starts, and temporary sibling files.

Perception and training run for minutes, so a target that cannot be written
is found before the first frame or training step, not after the last.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

VIDEO_SUFFIX = ".mp4"


class OutputPathError(Exception):
    """An output file or folder that cannot be written."""


def check_writable_folder(folder: Path, *, fix: str) -> None:
    """Raise ``OutputPathError`` unless a file can be created in ``folder``.

    The check creates and removes a temporary file, because permission bits
    do not tell the whole story (read-only mounts, or running as root).
    ``fix`` is the advice that ends the message.
    """
    if not folder.exists():
        raise OutputPathError(f"{folder}: the folder does not exist. {fix}")
    if not folder.is_dir():
        raise OutputPathError(f"{folder}: is a file, not a folder. {fix}")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.")
    except OSError as error:
        raise OutputPathError(
            f"{folder}: cannot write files here ({error.strerror or error}). {fix}"
        ) from error
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_video_target(path: Path, *, option: str) -> None:
    """Raise ``OutputPathError`` unless ``path`` can take a new MP4 video.

    ``option`` is the command-line option that named the path.
    """
    if path.is_dir():
        raise OutputPathError(
            f"{option} {path}: is a folder. Give a file name ending in "
            f"{VIDEO_SUFFIX}, for example {path / 'overlay.mp4'}"
        )
    if path.suffix.lower() != VIDEO_SUFFIX:
        raise OutputPathError(
            f"{option} {path}: the overlay video needs the {VIDEO_SUFFIX} "
            f"extension, for example {path.with_suffix(VIDEO_SUFFIX)}"
        )
    check_writable_folder(
        path.parent,
        fix=f"Create the folder or choose a writable folder for {option}.",
    )


def temporary_sibling(target: Path) -> Path:
    """Create an empty temporary file beside ``target`` and return its path.

    The file keeps ``target``'s suffix, because OpenCV picks the video
    container from the file name. Renaming it over ``target`` with
    ``os.replace`` is atomic since both lie in the same folder.
    """
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}"
    )
    os.close(handle)
    return Path(name)
