"""Image preprocessing shared by training, evaluation and ONNX inference.

Pure numpy and Pillow, so that inference never imports torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from walkout.perception.recognition.errors import ImageLoadError

logger = logging.getLogger(__name__)

# Normalisation of the TensorFlow EfficientNet-Lite reference: pixel values
# 0..255 map to about -1..1 ((x - 127) / 128).
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)

ImageInput = Image.Image | npt.NDArray[np.uint8] | Path | str


@dataclass(frozen=True)
class Preprocessing:
    """Preprocessing from an image to the network's input.

    The shorter side is resized to ``size / crop_fraction`` pixels, the centre
    ``size`` x ``size`` square is cut out, and each RGB channel is scaled to
    0..1 and normalised with ``mean`` and ``std``. With ``mirror_average``
    the network also sees the left-right mirror image and the two logit
    vectors are averaged, which costs a second pass.
    """

    size: int = 224
    crop_fraction: float = 1.0
    mean: tuple[float, float, float] = LITE_MEAN
    std: tuple[float, float, float] = LITE_STD
    mirror_average: bool = False

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"input size {self.size} px is too small. Use 32 or more")
        if not 0.1 <= self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction {self.crop_fraction} is outside 0.1..1.0")
        # JSON returns lists, so store tuples whatever the caller passed.
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))


def load_rgb(image: ImageInput) -> Image.Image:
    """Return ``image`` as an RGB Pillow image.

    Accepts a Pillow image, a path, or an ``(H, W, 3)`` uint8 array in RGB
    order (convert OpenCV's BGR frames first).
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 RGB array, got shape {image.shape} "
                f"and dtype {image.dtype}"
            )
        return Image.fromarray(image, mode="RGB")
    path = Path(image)
    try:
        with Image.open(path) as opened:
            return opened.convert("RGB")
    except FileNotFoundError as error:
        raise ImageLoadError(f"image not found: {path}") from error
    except (OSError, UnidentifiedImageError) as error:
        raise ImageLoadError(f"cannot decode image {path}: {error}") from error


def resize_and_crop(image: Image.Image, spec: Preprocessing) -> Image.Image:
    """Resize the shorter side to ``size / crop_fraction`` and crop the centre."""
    width, height = image.size
    short_side = round(spec.size / spec.crop_fraction)
    scale = short_side / min(width, height)
    resized_width = max(spec.size, round(width * scale))
    resized_height = max(spec.size, round(height * scale))
    image = image.resize((resized_width, resized_height), Image.Resampling.BILINEAR)
    left = (resized_width - spec.size) // 2
    top = (resized_height - spec.size) // 2
    return image.crop((left, top, left + spec.size, top + spec.size))


def normalise(image: Image.Image, spec: Preprocessing) -> npt.NDArray[np.float32]:
    """Return the ``(3, H, W)`` float32 array of an RGB image, normalised."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


def preprocess(image: ImageInput, spec: Preprocessing) -> npt.NDArray[np.float32]:
    """Turn one image into a ``(3, size, size)`` float32 network input."""
    return normalise(resize_and_crop(load_rgb(image), spec), spec)


def preprocess_batch(
    images: list[ImageInput], spec: Preprocessing
) -> npt.NDArray[np.float32]:
    """Turn images into one ``(N, 3, size, size)`` float32 batch."""
    if not images:
        return np.zeros((0, 3, spec.size, spec.size), dtype=np.float32)
    return np.stack([preprocess(image, spec) for image in images])
