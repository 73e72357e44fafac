"""Typed access to parsed JSON whose errors name the file and the JSON path.

``JsonObject`` wraps one decoded JSON object and records where it sits in
its file, for example ``products[3]``. A missing or mistyped field then
raises a ``RecordingError`` that names ``products[3].unit_weight_g``, the
value found and the type expected. The standard ``json`` module keeps no positions for
decoded values, so only syntax errors carry a line number.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import TypeGuard

import numpy as np

from walkout.recording.errors import RecordingError
from walkout.recording.model import FloatArray

# A plain non-negative decimal such as "1", "1.00" or "0.5": no sign, no
# exponent, so that every tool reads the same amount.
DECIMAL_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)?")

_MAX_SHOWN_CHARS = 40

# A field name, optionally followed by list indices: "center" or "K[1][2]".
_DOTTED_KEY = re.compile(r"[A-Za-z_]\w*(\[[0-9]+\])*")


class _NonFiniteConstantError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> object:
    raise _NonFiniteConstantError(name)


def load_json(file: Path) -> object:
    """Read and decode one UTF-8 JSON file, rejecting ``NaN`` and ``Infinity``."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(file, "file not found") from None
    except UnicodeDecodeError as error:
        raise RecordingError(
            file,
            f"invalid UTF-8 at byte {error.start}",
            hint="save the file as UTF-8",
        ) from None
    except OSError as error:
        raise RecordingError(file, f"cannot be read: {error.strerror}") from None

    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RecordingError(
            file,
            f"invalid JSON: {error.msg} (column {error.colno})",
            line=error.lineno,
            hint="fix the JSON syntax",
        ) from None
    except _NonFiniteConstantError as error:
        raise RecordingError(
            file,
            f"contains {error.name}, which is not valid JSON",
            hint="write a finite number",
        ) from None


def describe(value: object) -> str:
    """Render a JSON value and its JSON type for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    rendered = json.dumps(value)
    if len(rendered) > _MAX_SHOWN_CHARS:
        rendered = rendered[: _MAX_SHOWN_CHARS - 3] + "..."
    kind = "a string" if isinstance(value, str) else "a number"
    return f"{rendered} ({kind})"


def is_number(value: object) -> TypeGuard[int | float]:
    """Return whether ``value`` is a finite JSON number (``true`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


class JsonObject:
    """One decoded JSON object, with its file and JSON path for error messages."""

    def __init__(self, file: Path, where: str, value: object) -> None:
        self.file = file
        self.where = where
        if not isinstance(value, dict):
            place = where or "the top level"
            raise RecordingError(
                file, f"{place} is {describe(value)}", hint="expected a JSON object"
            )
        self.data: dict[str, object] = value

    # --- errors -------------------------------------------------------------

    def path(self, key: str) -> str:
        """Return the JSON path of ``key`` inside this object.

        Keys that are not identifiers, such as camera ids in video/index.json,
        are written in brackets: ``["1"].fps``.
        """
        if not _DOTTED_KEY.fullmatch(key):
            return f"{self.where}[{json.dumps(key)}]"
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, problem: str, hint: str) -> RecordingError:
        """Build an error whose message is ``key``'s JSON path, then ``problem``."""
        return RecordingError(self.file, f"{self.path(key)} {problem}", hint=hint)

    def _mistyped(self, key: str, value: object, expected: str) -> RecordingError:
        return self.error(key, f"is {describe(value)}", f"expected {expected}")

    def _required(self, key: str, expected: str) -> object:
        if key not in self.data:
            raise self.error(key, "is missing", f"add it as {expected}")
        return self.data[key]

    def has(self, key: str) -> bool:
        """Return whether ``key`` is present with a value other than ``null``."""
        return self.data.get(key) is not None

    # --- scalars ------------------------------------------------------------

    def text(self, key: str) -> str:
        """Return a required non-empty string field."""
        expected = "a non-empty string"
        value = self._required(key, expected)
        if not isinstance(value, str) or not value:
            raise self._mistyped(key, value, expected)
        return value

    def optional_text(self, key: str) -> str | None:
        """Return a string field that may be absent or ``null``."""
        return self.text(key) if self.has(key) else None

    def number(
        self, key: str, *, minimum: float | None = None, positive: bool = False
    ) -> float:
        """Return a required finite number, optionally bounded below."""
        expected = "a finite number"
        if positive:
            expected = "a number above 0"
        elif minimum is not None:
            expected = f"a number of at least {minimum:g}"
        value = self._required(key, expected)
        if not is_number(value):
            raise self._mistyped(key, value, expected)
        number = float(value)
        if positive and number <= 0:
            raise self._mistyped(key, value, expected)
        if minimum is not None and number < minimum:
            raise self._mistyped(key, value, expected)
        return number

    def optional_number(
        self, key: str, *, minimum: float | None = None, positive: bool = False
    ) -> float | None:
        """Return a number field that may be absent or ``null``."""
        if not self.has(key):
            return None
        return self.number(key, minimum=minimum, positive=positive)

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        """Return a required integer (``3`` or ``3.0``), optionally bounded below."""
        expected = "an integer"
        if minimum is not None:
            expected = f"an integer of at least {minimum}"
        value = self._required(key, expected)
        if not is_number(value) or value != int(value):
            raise self._mistyped(key, value, expected)
        integer = int(value)
        if minimum is not None and integer < minimum:
            raise self._mistyped(key, value, expected)
        return integer

    def optional_integer(self, key: str, *, minimum: int | None = None) -> int | None:
        """Return an integer field that may be absent or ``null``."""
        return self.integer(key, minimum=minimum) if self.has(key) else None

    def flag(self, key: str, *, default: bool) -> bool:
        """Return a boolean field, or ``default`` when it is absent or ``null``."""
        if not self.has(key):
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise self._mistyped(key, value, "true or false")
        return value

    def decimal(self, key: str) -> Decimal:
        """Return a money amount written as a decimal string such as ``"1.00"``."""
        expected = 'a decimal string such as "1.00" (not a JSON number)'
        value = self._required(key, expected)
        if not isinstance(value, str) or not DECIMAL_PATTERN.fullmatch(value):
            raise self._mistyped(key, value, expected)
        return Decimal(value)

    # --- containers ---------------------------------------------------------

    def _list(self, key: str, expected: str, *, optional: bool) -> list[object]:
        if optional and not self.has(key):
            return []
        value = self._required(key, expected)
        if not isinstance(value, list):
            raise self._mistyped(key, value, expected)
        return value

    def child(self, key: str) -> JsonObject:
        """Return a required nested object."""
        return JsonObject(self.file, self.path(key), self._required(key, "an object"))

    def objects(self, key: str, *, optional: bool = False) -> list[JsonObject]:
        """Return a list of objects. An optional list may be absent or ``null``."""
        items = self._list(key, "a list of objects", optional=optional)
        where = self.path(key)
        return [
            JsonObject(self.file, f"{where}[{index}]", item)
            for index, item in enumerate(items)
        ]

    def texts(self, key: str, *, optional: bool = False) -> list[str]:
        """Return a list of non-empty strings."""
        expected = "a list of non-empty strings"
        items = self._list(key, expected, optional=optional)
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise self._mistyped(f"{key}[{index}]", item, expected)
        return [str(item) for item in items]

    def numbers(self, key: str, *, length: int | None = None) -> list[float]:
        """Return a list of finite numbers, of exactly ``length`` when given."""
        expected = "a list of numbers"
        if length is not None:
            expected = f"a list of {length} numbers"
        items = self._list(key, expected, optional=False)
        if length is not None and len(items) != length:
            raise self.error(
                key, f"has {len(items)} values", f"expected {length} numbers"
            )
        for index, item in enumerate(items):
            if not is_number(item):
                raise self._mistyped(f"{key}[{index}]", item, "a finite number")
        return [float(item) for item in items if is_number(item)]

    def matrix(self, key: str, rows: int | None, columns: int) -> FloatArray:
        """Return a matrix given as a list of rows. ``rows=None`` accepts any count."""
        expected = f"a list of rows of {columns} numbers"
        if rows is not None:
            expected = f"a {rows}x{columns} matrix as a list of {rows} rows"
        items = self._list(key, expected, optional=False)
        if rows is not None and len(items) != rows:
            raise self.error(key, f"has {len(items)} rows", f"expected {expected}")
        matrix = np.empty((len(items), columns), dtype=np.float64)
        for row, item in enumerate(items):
            if not isinstance(item, list) or len(item) != columns:
                raise self._mistyped(f"{key}[{row}]", item, f"{columns} numbers")
            for column, entry in enumerate(item):
                if not is_number(entry):
                    raise self._mistyped(
                        f"{key}[{row}][{column}]", entry, "a finite number"
                    )
                matrix[row, column] = entry
        return matrix
