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
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from walkout.perception.recognition.errors import ModelFileError
from walkout.perception.recognition.preprocess import Preprocessing

logger = logging.getLogger(__name__)

LABELS_FORMAT = "walkout-recognition-labels/1"


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
        coarse_names: dict[int, str] = {}
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except OSError as error:
            raise ModelFileError(f"cannot read class list {path}: {error}") from error
        for line_number, row in enumerate(rows[1:], start=2):
            try:
                fine_name, fine_id, coarse_name, coarse_id = (
                    field.strip() for field in row[:4]
                )
                fine[int(fine_id)] = (fine_name, int(coarse_id))
                coarse_names[int(coarse_id)] = coarse_name
            except ValueError as error:
                raise ModelFileError(
                    f"{path}:{line_number}: invalid class row {row!r}. Expected "
                    "fine name, fine id, coarse name, coarse id"
                ) from error
        if sorted(fine) != list(range(len(fine))):
            raise ModelFileError(f"{path}: fine class ids do not run from 0 to N-1")
        return cls(
            fine_names=tuple(fine[i][0] for i in range(len(fine))),
            coarse_of_fine=tuple(fine[i][1] for i in range(len(fine))),
            coarse_names=coarse_names,
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
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(
                f"temperature {self.temperature} must be a positive finite number"
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
        # Write beside the target and rename, so a reader never sees half a file.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> LabelsFile:
        """Read a labels JSON written by :meth:`write`."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ModelFileError(f"cannot read labels file {path}: {error}") from error
        if document.get("format") != LABELS_FORMAT:
            raise ModelFileError(
                f"{path}: format is {document.get('format')!r}, "
                f"expected {LABELS_FORMAT!r}"
            )
        try:
            entries = sorted(document["fine"], key=lambda entry: int(entry["id"]))
            classes = ClassMap(
                fine_names=tuple(str(entry["name"]) for entry in entries),
                coarse_of_fine=tuple(int(entry["coarse_id"]) for entry in entries),
                coarse_names={
                    int(entry["coarse_id"]): str(entry["coarse_name"])
                    for entry in entries
                },
            )
            preprocessing = Preprocessing(**document["preprocessing"])
            return cls(
                classes=classes,
                preprocessing=preprocessing,
                temperature=float(document.get("temperature", 1.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{path}: invalid labels file: {error}") from error


def labels_path_for(model_path: Path) -> Path:
    """Return the labels JSON path that belongs to ``model_path`` (same stem)."""
    return model_path.with_name(model_path.stem + ".labels.json")
