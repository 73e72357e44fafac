"""Errors raised by the importers of third-party store data."""

from __future__ import annotations

from pathlib import Path


class AutocheckoutImportError(Exception):
    """AiFi NanoStore data that cannot be imported.

    The message is one line: the file, what is wrong with it and what to do.
    """

    def __init__(self, path: Path | str, problem: str, hint: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        super().__init__(f"{self.path}: {problem}; {hint}")
