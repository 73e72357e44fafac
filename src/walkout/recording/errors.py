"""Errors raised for recordings that do not follow the format.

Every message names the file, the line where there is one, the offending
value and what to do about it, so the command line can print it as one line.
"""

from __future__ import annotations

from pathlib import Path


class RecordingError(Exception):
    """A recording that cannot be read as ``walkout-recording/1``."""

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        self.hint = hint
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        message = f"{where}: {problem}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)
