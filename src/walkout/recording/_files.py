"""Atomic file replacement: a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def replace_atomically(target: Path) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``target`` once the block succeeds.

    The data goes to a temporary file in the same directory, which is flushed
    to disk and then renamed over ``target`` with ``os.replace``. If the block
    raises, the temporary file is removed and ``target`` is left as it was.
    Missing parent directories are created. The new file keeps the mode of
    the one it replaces, or gets ``rw-r--r--`` (``mkstemp`` alone gives
    ``rw-------``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.is_file() else 0o644
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as sink:
            os.fchmod(sink.fileno(), mode)
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    logger.debug("wrote %s", target)


def write_json(document: Any, target: Path) -> None:
    """Write ``document`` as indented UTF-8 JSON, atomically."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with replace_atomically(target) as sink:
        sink.write(text.encode("utf-8"))


def remove_if_present(path: Path) -> None:
    """Delete ``path`` if it exists, so a stale file cannot be read as current."""
    if path.is_file():
        path.unlink()
        logger.info("removed stale %s", path)
