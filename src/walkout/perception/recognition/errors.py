"""Errors of product recognition.

RecognitionError
├── ImageListError      a line of an image list is malformed
├── ImageLoadError      an image file is missing or cannot be decoded
├── ModelFileError      the model or its labels file is missing or invalid
└── CalibrationError    the images cannot determine a softmax temperature
"""

from __future__ import annotations

from pathlib import Path


class RecognitionError(Exception):
    """Base class of the errors raised by ``walkout.perception.recognition``."""


class ImageListError(RecognitionError):
    """A line of a ``path, fine_id, coarse_id`` image list is malformed."""


class ImageLoadError(RecognitionError):
    """An image file is missing or cannot be decoded.

    ``path`` is the image file, where the error concerns one.
    """

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ModelFileError(RecognitionError):
    """A model file or its labels file is missing or invalid."""


class CalibrationError(RecognitionError):
    """Too few images, or images that cannot determine a softmax temperature."""
