"""Errors of product recognition.

RecognitionError
├── ImageListError      a line of an image list is malformed
├── ImageLoadError      an image file is missing or cannot be decoded
├── ModelFileError      the model or its labels file is missing or invalid
└── CalibrationError    the images cannot determine a softmax temperature
"""

from __future__ import annotations


class RecognitionError(Exception):
    """Base class of the errors raised by ``walkout.perception.recognition``."""


class ImageListError(RecognitionError):
    """A line of a ``path, fine_id, coarse_id`` image list is malformed."""


class ImageLoadError(RecognitionError):
    """An image file is missing or cannot be decoded."""


class ModelFileError(RecognitionError):
    """A model file or its labels file is missing or invalid."""


class CalibrationError(RecognitionError):
    """Too few images, or images that cannot determine a softmax temperature."""
