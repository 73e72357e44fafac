"""Columnar CSV reading and writing with errors that name the file and line.

Every column is read as text by ``pyarrow.csv`` and converted afterwards with
``pyarrow.compute``, which rejects the surrounding spaces that the CSV
reader's own number parsing would accept. A column of few distinct values
(such as plate ids) may be read dictionary-encoded, so that each distinct
value is stored once per chunk. The first value that fails to convert is located by
bisecting the column with the same cast, so the reported value is exactly the
one the parser rejected. Blank lines are kept as rows while reading, so data
row ``i`` (0-based) is always on line ``i + 2`` of the file (line 1 is the
header).
"""

from __future__ import annotations

import csv
import gzip
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from walkout.recording.errors import RecordingError
from walkout.recording.model import FloatArray

logger = logging.getLogger(__name__)

ObjectArray = npt.NDArray[np.object_]

# Type of a column read with ``dictionary_columns``: int32 indices into the
# distinct strings of one chunk.
DICTIONARY_TEXT = pa.dictionary(pa.int32(), pa.string())

# Characters that force a CSV field into quotes.
_NEEDS_QUOTES = r'[,"\r\n]'


def data_line(row: int) -> int:
    """Return the 1-based file line of 0-based data row ``row``."""
    return row + 2


def find_csv(directory: Path, name: str, *, compressed: bool) -> Path | None:
    """Return ``name`` or, when ``compressed`` is allowed, ``name.gz`` if present.

    Raises ``RecordingError`` when both exist, because either could be current.
    """
    plain = directory / name
    packed = directory / f"{name}.gz"
    if compressed and plain.is_file() and packed.is_file():
        raise RecordingError(
            directory,
            f"contains both {name} and {name}.gz",
            hint="delete the stale one",
        )
    if plain.is_file():
        return plain
    if compressed and packed.is_file():
        return packed
    return None


def _read_header(file: Path) -> list[str]:
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as packed:
                first = packed.readline()
        else:
            with file.open("rb") as plain:
                first = plain.readline()
    except (OSError, EOFError) as error:
        raise RecordingError(
            file, f"read failed: {error}", hint="check the file or recreate it"
        ) from None
    try:
        header = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RecordingError(
            file, f"invalid UTF-8 at byte {error.start}", line=1, hint="save as UTF-8"
        ) from None
    if not header.strip():
        raise RecordingError(file, "file is empty", line=1, hint="write a header line")
    return next(csv.reader([header.rstrip("\r\n")]))


def _check_header(file: Path, found: list[str], expected: Sequence[str]) -> None:
    wanted = ",".join(expected)
    duplicates = sorted({name for name in found if found.count(name) > 1})
    if duplicates:
        raise RecordingError(
            file,
            f"header repeats column {duplicates[0]!r}",
            line=1,
            hint=f"expected columns {wanted}",
        )
    missing = [name for name in expected if name not in found]
    if missing:
        raise RecordingError(
            file,
            f"header has columns {','.join(found)!r}, missing {','.join(missing)}",
            line=1,
            hint=f"expected columns {wanted}",
        )


class CsvTable:
    """The expected columns of one CSV file, as text, with file and line context."""

    def __init__(self, file: Path, table: pa.Table) -> None:
        self.file = file
        self.table = table

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def error(self, row: int | None, problem: str, hint: str) -> RecordingError:
        """Build an error about data row ``row`` (0-based), or the whole file."""
        line = None if row is None else data_line(row)
        return RecordingError(self.file, problem, line=line, hint=hint)

    def text(self, column: str) -> pa.ChunkedArray:
        """Return ``column`` as read: strings, or ``DICTIONARY_TEXT`` chunks."""
        return self.table.column(column)

    def objects(self, column: str) -> ObjectArray:
        """Return ``column`` as a numpy array of ``str``, sharing repeated values."""
        encoded = pc.dictionary_encode(self.text(column)).combine_chunks()
        dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        result: ObjectArray = dictionary[indices]
        return result

    def require_text(self, column: str, description: str) -> None:
        """Reject an empty value in ``column``, whose values are ``description``."""
        empty = pc.equal(self.text(column), "")
        row = first_true(empty)
        if row is not None:
            raise self.error(
                row,
                f"column {column} is empty",
                hint=f"write the {description} on every row",
            )

    def require_choice(self, column: str, allowed: Sequence[str]) -> None:
        """Reject a value in ``column`` that is not one of ``allowed``."""
        values = self.text(column)
        valid = pc.is_in(values, value_set=pa.array(list(allowed), type=pa.string()))
        row = first_true(pc.invert(valid))
        if row is not None:
            raise self.error(
                row,
                f"column {column} is {values[row].as_py()!r}",
                hint=f"expected one of {', '.join(allowed)}",
            )

    def floats(
        self,
        column: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> FloatArray:
        """Parse ``column`` as finite float64 values, optionally within bounds."""
        values = self.text(column)
        try:
            numbers = _cast_float64(values)
        except pa.ArrowInvalid:
            row = _first_unparsable(values.combine_chunks())
            raise self.error(
                row,
                f"column {column} is {values[row].as_py()!r}, not a number",
                hint="write a decimal number",
            ) from None

        finite = np.isfinite(numbers)
        if not finite.all():
            row = int(np.argmin(finite))
            raise self.error(
                row,
                f"column {column} is {values[row].as_py()!r}",
                hint="write a finite number (NaN and infinity are not readings)",
            )
        self._check_bounds(column, numbers, minimum, maximum)
        return numbers

    def _check_bounds(
        self,
        column: str,
        numbers: FloatArray,
        minimum: float | None,
        maximum: float | None,
    ) -> None:
        if minimum is None and maximum is None:
            # Finite numbers always lie within (-inf, inf).
            return
        low = -np.inf if minimum is None else minimum
        high = np.inf if maximum is None else maximum
        outside = (numbers < low) | (numbers > high)
        if outside.any():
            row = int(np.argmax(outside))
            raise self.error(
                row,
                f"column {column} is {self.text(column)[row].as_py()!r}",
                hint=f"expected a value in [{low:g}, {high:g}]",
            )


def first_true(mask: pa.ChunkedArray | pa.Array) -> int | None:
    """Return the index of the first true value of a boolean array, or None."""
    index = int(pc.index(mask, True).as_py())
    return None if index < 0 else index


def for_each_chunk(column: pa.ChunkedArray, work: Callable[[int, int], None]) -> None:
    """Call ``work(chunk index, first row of the chunk)`` for every chunk.

    Chunks run in parallel on arrow's CPU count, so ``work`` should spend its
    time in arrow or numpy calls that release the GIL. The first exception
    raised by ``work`` propagates.
    """
    lengths = [len(chunk) for chunk in column.chunks]
    starts = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))[:-1]
    workers = min(pa.cpu_count(), len(lengths))
    if workers < 2:
        for index, start in enumerate(starts.tolist()):
            work(index, start)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() waits for every chunk and re-raises the first failure.
        list(pool.map(work, range(len(lengths)), starts.tolist()))


def _cast_float64(values: pa.ChunkedArray) -> FloatArray:
    """Cast a text column to float64 values in one numpy array, chunks in parallel.

    Raises ``pa.ArrowInvalid`` as ``pc.cast`` does when a value does not parse.
    """
    numbers: FloatArray = np.empty(len(values), dtype=np.float64)
    chunks = values.chunks

    def cast_chunk(index: int, start: int) -> None:
        parsed = pc.cast(chunks[index], pa.float64())
        numbers[start : start + len(parsed)] = parsed.to_numpy(zero_copy_only=False)

    for_each_chunk(values, cast_chunk)
    return numbers


def _parses(values: pa.Array) -> bool:
    try:
        pc.cast(values, pa.float64())
    except pa.ArrowInvalid:
        return False
    return True


def _first_unparsable(values: pa.Array) -> int:
    # Invariant: values[low:high] contains the first value that fails to parse.
    # Each step casts one half, so the whole search costs about two casts.
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        if _parses(values.slice(low, middle - low)):
            low = middle
        else:
            high = middle
    return low


def _equal_empty(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pa.types.is_dictionary(column.type):
        return pc.equal(column, "")
    # Compare each chunk's few distinct strings, then spread the result by index.
    chunks = [
        pc.take(pc.equal(chunk.dictionary, ""), chunk.indices)
        for chunk in column.chunks
    ]
    return pa.chunked_array(chunks, type=pa.bool_())


def _blank_rows(table: pa.Table) -> npt.NDArray[np.bool_]:
    blank = pa.chunked_array([np.ones(table.num_rows, dtype=bool)])
    for column in table.columns:
        blank = pc.and_(blank, _equal_empty(column))
        if not pc.any(blank).as_py():
            # A row is blank only when every column is empty.
            return np.zeros(table.num_rows, dtype=bool)
    result: npt.NDArray[np.bool_] = blank.to_numpy()
    return result


def _parse_table(
    file: Path,
    columns: Sequence[str],
    *,
    threads: bool,
    dictionary_columns: Sequence[str] = (),
) -> pa.Table:
    bad_rows: list[pcsv.InvalidRow] = []

    def keep_bad_row(row: pcsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "skip"

    parse_options = pcsv.ParseOptions(
        ignore_empty_lines=False, invalid_row_handler=keep_bad_row
    )
    convert_options = pcsv.ConvertOptions(
        column_types={
            name: DICTIONARY_TEXT if name in dictionary_columns else pa.string()
            for name in columns
        },
        include_columns=list(columns),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    read_options = pcsv.ReadOptions(use_threads=threads)
    try:
        table = pcsv.read_csv(
            file,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except (pa.ArrowException, OSError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RecordingError(
            file, f"cannot be parsed as CSV: {reason}", hint="check the file"
        ) from None

    if bad_rows:
        if bad_rows[0].number is None and threads:
            # The threaded parser does not count lines, so parse again to get one.
            return _parse_table(
                file, columns, threads=False, dictionary_columns=dictionary_columns
            )
        first = bad_rows[0]
        raise RecordingError(
            file,
            f"row has {first.actual_columns} fields, expected "
            f"{first.expected_columns}: {first.text!r}",
            line=first.number,
            hint="give every row the header's number of fields",
        )
    return table


def read_csv_table(
    file: Path, columns: Sequence[str], *, dictionary_columns: Sequence[str] = ()
) -> CsvTable:
    """Read the ``columns`` of a CSV file (``.gz`` allowed) as text columns.

    Columns named in ``dictionary_columns`` are read as ``DICTIONARY_TEXT``,
    which saves memory and time when they repeat few distinct values. Extra
    columns are ignored. Blank lines at the end are dropped, and a blank line
    before the last data row is rejected.
    """
    _check_header(file, _read_header(file), columns)
    table = _parse_table(
        file, columns, threads=True, dictionary_columns=dictionary_columns
    )

    blank = _blank_rows(table)
    if blank.any():
        filled = np.flatnonzero(~blank)
        end = int(filled[-1]) + 1 if filled.size else 0
        if blank[:end].any():
            row = int(np.argmax(blank[:end]))
            raise RecordingError(
                file, "line is blank", line=data_line(row), hint="remove the line"
            )
        table = table.slice(0, end)

    logger.debug("read %d rows from %s", table.num_rows, file)
    return CsvTable(file, table)


# --- writing ---------------------------------------------------------------


def write_csv_table(table: pa.Table, sink: BinaryIO | pa.NativeFile) -> None:
    """Write ``table`` with an unquoted header, quoting text fields only when needed.

    Arrow's ``needed`` quoting style quotes every text field, so fields are
    left bare unless one of them contains a comma, quote or line break.
    """
    header = ",".join(table.column_names) + "\n"
    sink.write(header.encode("utf-8"))

    quoting = "none"
    for column in table.columns:
        if (
            pa.types.is_string(column.type)
            and first_true(pc.match_substring_regex(column, _NEEDS_QUOTES)) is not None
        ):
            quoting = "needed"
    options = pcsv.WriteOptions(include_header=False, quoting_style=quoting)
    pcsv.write_csv(table, sink, write_options=options)
