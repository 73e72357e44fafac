"""Reading image lists of `path, fine_id, coarse_id` lines."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from walkout.perception.recognition.errors import ImageListError, ImageLoadError

if TYPE_CHECKING:
    from walkout.perception.recognition.labels import ClassMap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledImage:
    """One line of an image list: an image path and its class ids."""

    path: Path
    fine_id: int
    coarse_id: int
    # Line number in the list file, counted from 1, or 0 when not read from a file.
    line: int = 0


def read_image_list(
    list_path: Path,
    root: Path,
    *,
    num_fine: int | None = None,
    check_files: bool = True,
) -> list[LabelledImage]:
    """Read ``path, fine_id, coarse_id`` lines, with paths relative to ``root``.

    Blank lines are skipped. Raises :class:`ImageListError` naming the file and
    line of the first malformed line, of a fine id outside ``0..num_fine-1``
    when ``num_fine`` is given, or of an image file that does not exist when
    ``check_files`` is true.
    """
    try:
        # utf-8-sig drops the byte-order mark that some editors put first.
        lines = list_path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as error:
        raise ImageListError(f"cannot read image list {list_path}: {error}") from error
    except UnicodeDecodeError as error:
        raise ImageListError(
            f"image list {list_path} is not UTF-8 text: {error}"
        ) from error

    if check_files and not root.is_dir():
        raise ImageListError(
            f"{list_path}: the image root folder {root} does not exist. Pass the "
            "folder that the list's image paths are relative to"
        )
    images: list[LabelledImage] = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{list_path}:{line_number}"
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 3 or not fields[0]:
            raise ImageListError(
                f"{where}: expected 'path, fine_id, coarse_id', got {line!r}"
            )
        try:
            fine_id, coarse_id = int(fields[1]), int(fields[2])
        except ValueError as error:
            raise ImageListError(
                f"{where}: class ids must be integers, got {line!r}"
            ) from error
        if fine_id < 0 or coarse_id < 0:
            raise ImageListError(f"{where}: class ids must be >= 0, got {line!r}")
        if num_fine is not None and fine_id >= num_fine:
            raise ImageListError(
                f"{where}: fine id {fine_id} is outside 0..{num_fine - 1}"
            )
        path = root / fields[0]
        if check_files and path.is_dir():
            raise ImageListError(f"{where}: {path} is a folder, not an image file")
        if check_files and not path.is_file():
            raise ImageListError(f"{where}: image not found: {path}")
        images.append(LabelledImage(path, fine_id, coarse_id, line_number))

    if not images:
        raise ImageListError(f"{list_path}: the image list is empty")
    return images


def locate_load_error(
    error: ImageLoadError, list_path: Path, items: Sequence[LabelledImage]
) -> ImageLoadError:
    """Return ``error`` with the list file and line of its image in front."""
    for item in items:
        if error.path is not None and item.path == error.path:
            return ImageLoadError(f"{list_path}:{item.line}: {error}", path=item.path)
    return ImageLoadError(f"{list_path}: {error}", path=error.path)


def check_coarse_ids(
    list_path: Path, items: Sequence[LabelledImage], classes: ClassMap
) -> None:
    """Raise ``ImageListError`` when a line's coarse id disagrees with ``classes``."""
    for item in items:
        expected = classes.coarse_of_fine[item.fine_id]
        if item.coarse_id != expected:
            raise ImageListError(
                f"{list_path}: {item.path} has coarse id {item.coarse_id}, but "
                f"fine id {item.fine_id} ({classes.fine_names[item.fine_id]}) "
                f"belongs to coarse id {expected} in the model's labels file"
            )
