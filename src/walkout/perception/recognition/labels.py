"""Class names of the recogniser and the fine-to-coarse class map.

The labels file is a small JSON document stored beside the ONNX model. It
contains everything inference needs besides the network: the fine class names
in output order, the coarse class of each fine class, and the preprocessing
that the network was trained with.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from walkout.perception.recognition.calibration import MAX_TEMPERATURE, MIN_TEMPERATURE
from walkout.perception.recognition.errors import ModelFileError
from walkout.perception.recognition.preprocess import Preprocessing
from walkout.recording._files import write_json

logger = logging.getLogger(__name__)

LABELS_FORMAT = "walkout-recognition-labels/1"

# Maximum number of ids that an error message lists.
MAX_LISTED_IDS = 20


def _id_list(ids: Sequence[int]) -> str:
    listed = ", ".join(str(i) for i in ids[:MAX_LISTED_IDS])
    more = len(ids) - MAX_LISTED_IDS
    return f"[{listed}, ... and {more} more]" if more > 0 else f"[{listed}]"


def check_fine_ids(ids: Sequence[int], *, source: str, fix: str) -> None:
    """Raise ``ModelFileError`` unless ``ids`` are 0 to N-1, each once.

    Output i of the network is fine class i, so a duplicated id would give
    one output two classes and a gap would leave an output without a class.
    ``source`` names the file and field, and ``fix`` is the advice that ends
    the message.
    """
    count = len(ids)
    duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
    missing = sorted(set(range(count)) - set(ids))
    out_of_range = sorted({i for i in ids if not 0 <= i < count})
    if not (duplicated or missing or out_of_range):
        return
    problems = [
        f"{label} {_id_list(values)}"
        for label, values in (
            ("duplicated ids", duplicated),
            ("missing ids", missing),
            ("ids outside the range", out_of_range),
        )
        if values
    ]
    raise ModelFileError(
        f"{source}: the {count} fine class ids must be 0 to {count - 1}, each "
        f"once, because output i of the model is class i. Found "
        f"{'; '.join(problems)}. {fix}"
    )


def check_class_names(
    fine_names: Sequence[object],
    coarse_pairs: Sequence[tuple[object, object]],
    *,
    source: str,
) -> None:
    """Raise ``ValueError`` on a bad class name or coarse id.

    Every name must be a non-empty string, fine names must differ, coarse
    ids must be integers of at least 0, and one coarse id has one name.
    ``coarse_pairs`` contains (coarse id, coarse name) per fine class.
    """
    for index, name in enumerate(fine_names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"{source}: fine class {index} has name {name!r}. "
                "Every class needs a non-empty text name"
            )
    repeated = sorted(str(name) for name, n in Counter(fine_names).items() if n > 1)
    if repeated:
        raise ValueError(
            f"{source}: fine class names {repeated} occur more than once. "
            "Each fine class needs its own name"
        )
    names_of: dict[int, str] = {}
    for index, (coarse_id, coarse_name) in enumerate(coarse_pairs):
        if (
            isinstance(coarse_id, bool)
            or not isinstance(coarse_id, int)
            or coarse_id < 0
        ):
            raise ValueError(
                f"{source}: fine class {index} has coarse id {coarse_id!r}. "
                "Coarse ids are integers of 0 or more"
            )
        if not isinstance(coarse_name, str) or not coarse_name.strip():
            raise ValueError(
                f"{source}: fine class {index} has coarse name {coarse_name!r}. "
                "Every class needs a non-empty text name"
            )
        known = names_of.setdefault(coarse_id, coarse_name)
        if known != coarse_name:
            raise ValueError(
                f"{source}: coarse id {coarse_id} is named both {known!r} and "
                f"{coarse_name!r}. Give each coarse id one name"
            )


@dataclass(frozen=True)
class ClassMap:
    """Fine class names by id and the coarse class name of each fine class."""

    fine_names: tuple[str, ...]
    coarse_of_fine: tuple[int, ...]
    coarse_names: dict[int, str]

    @property
    def num_fine(self) -> int:
        return len(self.fine_names)

    def coarse_name(self, fine_id: int) -> str:
        """Return the coarse class name of fine class ``fine_id``."""
        return self.coarse_names[self.coarse_of_fine[fine_id]]

    @classmethod
    def from_classes_csv(cls, path: Path) -> ClassMap:
        """Read the Grocery Store Dataset's ``classes.csv``.

        Its columns are fine name, fine id, coarse name and coarse id, then two
        paths that this reader ignores. Fine ids must run from 0 without gaps.
        """
        fine: dict[int, tuple[str, int]] = {}
        fine_ids: list[int] = []
        coarse_names: dict[int, str] = {}
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except OSError as error:
            raise ModelFileError(f"cannot read class list {path}: {error}") from error
        except UnicodeDecodeError as error:
            raise ModelFileError(
                f"class list {path} is not UTF-8 text ({error.reason} at byte "
                f"{error.start}). Save it as UTF-8"
            ) from error
        for line_number, row in enumerate(rows[1:], start=2):
            try:
                fine_name, fine_id, coarse_name, coarse_id = (
                    field.strip() for field in row[:4]
                )
                fine[int(fine_id)] = (fine_name, int(coarse_id))
                fine_ids.append(int(fine_id))
                coarse_names[int(coarse_id)] = coarse_name
            except ValueError as error:
                raise ModelFileError(
                    f"{path}:{line_number}: invalid class row {row!r}. Expected "
                    "fine name, fine id, coarse name, coarse id"
                ) from error
        check_fine_ids(
            fine_ids,
            source=f"{path}, column 2 (fine id)",
            fix="Number the fine classes 0 to N-1, one row each.",
        )
        ordered = [fine[i] for i in range(len(fine))]
        coarse_of_row = [coarse_names[coarse_id] for _, coarse_id in ordered]
        try:
            check_class_names(
                [name for name, _ in ordered],
                [
                    (coarse_id, name)
                    for (_, coarse_id), name in zip(ordered, coarse_of_row, strict=True)
                ],
                source=str(path),
            )
            _check_coarse_rows(rows[1:])
        except ValueError as error:
            raise ModelFileError(f"{path}: {error}") from error
        return cls(
            fine_names=tuple(fine[i][0] for i in range(len(fine))),
            coarse_of_fine=tuple(fine[i][1] for i in range(len(fine))),
            coarse_names=coarse_names,
        )


def _check_coarse_rows(rows: Sequence[Sequence[str]]) -> None:
    """Raise ``ValueError`` when one coarse id has two names in classes.csv rows."""
    names_of: dict[int, str] = {}
    for line_number, row in enumerate(rows, start=2):
        coarse_name, coarse_id = row[2].strip(), int(row[3])
        known = names_of.setdefault(coarse_id, coarse_name)
        if known != coarse_name:
            raise ValueError(
                f"line {line_number}: coarse id {coarse_id} is named "
                f"{coarse_name!r}, but an earlier row names it {known!r}. "
                "Give each coarse id one name"
            )


@dataclass(frozen=True)
class LabelsFile:
    """Contents of the labels JSON stored beside an ONNX recogniser.

    ``temperature`` divides the logits before the softmax (see
    :mod:`walkout.perception.recognition.calibration`). Files without it
    read as 1.0.
    """

    classes: ClassMap
    preprocessing: Preprocessing
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.temperature, bool) or not isinstance(
            self.temperature, int | float
        ):
            raise ValueError(f"temperature must be a number, got {self.temperature!r}")
        if not MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(
                f"temperature {self.temperature} is outside "
                f"{MIN_TEMPERATURE}..{MAX_TEMPERATURE}. Refit it with "
                "'walkout vision calibrate'"
            )

    def write(self, path: Path) -> None:
        """Write the labels JSON to ``path``."""
        document: dict[str, Any] = {
            "format": LABELS_FORMAT,
            "fine": [
                {
                    "id": fine_id,
                    "name": name,
                    "coarse_id": self.classes.coarse_of_fine[fine_id],
                    "coarse_name": self.classes.coarse_name(fine_id),
                }
                for fine_id, name in enumerate(self.classes.fine_names)
            ],
            "preprocessing": asdict(self.preprocessing),
            "temperature": self.temperature,
        }
        write_json(document, path)

    @classmethod
    def read(cls, path: Path) -> LabelsFile:
        """Read a labels JSON written by :meth:`write`."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ModelFileError(f"cannot read labels file {path}: {error}") from error
        except UnicodeDecodeError as error:
            raise ModelFileError(
                f"labels file {path} is not UTF-8 text ({error.reason} at byte "
                f"{error.start}). Write it again with 'walkout vision train'"
            ) from error
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelFileError(
                f"labels file {path} is not valid JSON: {error.msg} at line "
                f"{error.lineno} column {error.colno}"
            ) from error
        if not isinstance(document, dict):
            raise ModelFileError(f"{path}: expected a JSON object at the top level")
        if document.get("format") != LABELS_FORMAT:
            raise ModelFileError(
                f"{path}: format is {document.get('format')!r}, "
                f"expected {LABELS_FORMAT!r}"
            )
        if "fine" not in document:
            raise ModelFileError(
                f"{path}: invalid labels file: the key 'fine' (the list of fine "
                "classes) is missing"
            )
        try:
            entries = _fine_entries(path, document["fine"])
            for index, entry in enumerate(entries):
                missing = [
                    key
                    for key in ("name", "coarse_id", "coarse_name")
                    if key not in entry
                ]
                if missing:
                    raise ValueError(
                        f"'fine' entry {index} is missing the key {missing[0]!r}"
                    )
            check_class_names(
                [entry["name"] for entry in entries],
                [(entry["coarse_id"], entry["coarse_name"]) for entry in entries],
                source="field 'fine'",
            )
            classes = ClassMap(
                fine_names=tuple(str(entry["name"]) for entry in entries),
                coarse_of_fine=tuple(int(entry["coarse_id"]) for entry in entries),
                coarse_names={
                    int(entry["coarse_id"]): str(entry["coarse_name"])
                    for entry in entries
                },
            )
            if "preprocessing" not in document:
                raise ValueError("the 'preprocessing' object is missing")
            settings = document["preprocessing"]
            known = {field.name for field in fields(Preprocessing)}
            unknown = sorted(set(settings) - known)
            if unknown:
                raise ValueError(
                    f"unknown preprocessing settings {unknown}. "
                    f"Known settings: {sorted(known)}"
                )
            return cls(
                classes=classes,
                preprocessing=Preprocessing(**settings),
                temperature=document.get("temperature", 1.0),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{path}: invalid labels file: {error}") from error


def _fine_entries(path: Path, entries: object) -> list[dict[str, Any]]:
    """Check the ids of the labels file's ``fine`` entries and sort them by id."""
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) for entry in entries
    ):
        raise ValueError("'fine' must be a list of objects")
    for index, entry in enumerate(entries):
        fine_id = entry.get("id")
        if isinstance(fine_id, bool) or not isinstance(fine_id, int):
            raise ValueError(
                f"'fine' entry {index} has id {fine_id!r}, which is not an integer"
            )
    check_fine_ids(
        [entry["id"] for entry in entries],
        source=f"{path}, field 'fine', key 'id'",
        fix="Give every model output one entry, or write the labels file again "
        "with 'walkout vision train'.",
    )
    return sorted(entries, key=lambda entry: int(entry["id"]))


def set_temperature(path: Path, temperature: float) -> None:
    """Store ``temperature`` in the labels JSON at ``path``, keeping all else.

    The file is read as plain JSON, so keys that this version does not read are
    kept. A symbolic link is followed and its target rewritten.
    """
    LabelsFile.read(path)  # Raises ModelFileError unless the file is valid.
    target = path.resolve()
    document = json.loads(target.read_text(encoding="utf-8"))
    document["temperature"] = temperature
    write_json(document, target)


def labels_path_for(model_path: Path) -> Path:
    """Return the labels JSON path that belongs to ``model_path`` (same stem)."""
    return model_path.with_name(model_path.stem + ".labels.json")
