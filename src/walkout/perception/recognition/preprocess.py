"""Image preprocessing shared by training, evaluation and ONNX inference.

Pure numpy and Pillow, so that inference never imports torch.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from walkout.perception.recognition.errors import ImageLoadError

logger = logging.getLogger(__name__)

# Normalisation of the TensorFlow EfficientNet-Lite reference: pixel values
# 0..255 map to about -1..1 ((x - 127) / 128).
LITE_MEAN = (0.498, 0.498, 0.498)
LITE_STD = (0.502, 0.502, 0.502)

# Image files above this many pixels are rejected before decoding, because an
# RGB decode takes 3 bytes per pixel (about 537 MB at the limit). It equals
# the size above which Pillow 13 raises DecompressionBombError by default,
# about 13,400 x 13,400 px, so photos of up to 179 Mpx load.
MAX_IMAGE_PIXELS = 178_956_970
# Files above this many pixels load with a logged warning. It equals Pillow
# 13's default Image.MAX_IMAGE_PIXELS, above which Pillow would emit its own
# DecompressionBombWarning.
LARGE_IMAGE_PIXELS = 89_478_485

ImageInput = Image.Image | npt.NDArray[np.uint8] | Path | str
Logits = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Preprocessing:
    """Preprocessing from an image to the network's input.

    The shorter side is resized to ``size / crop_fraction`` pixels, the centre
    ``size`` x ``size`` square is cut out, and each RGB channel is scaled to
    0..1 and normalised with ``mean`` and ``std``. With ``mirror_average``
    the network also runs on the left-right mirror image and the two logit
    vectors are averaged, which costs a second pass.
    """

    size: int = 224
    crop_fraction: float = 1.0
    mean: tuple[float, float, float] = LITE_MEAN
    std: tuple[float, float, float] = LITE_STD
    mirror_average: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ValueError(f"size must be an integer, got {self.size!r}")
        if self.size < 32:
            raise ValueError(f"input size {self.size} px is too small. Use 32 or more")
        if isinstance(self.crop_fraction, bool) or not isinstance(
            self.crop_fraction, int | float
        ):
            raise ValueError(
                f"crop_fraction must be a number, got {self.crop_fraction!r}"
            )
        if not 0.1 <= self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction {self.crop_fraction} is outside 0.1..1.0")
        if not isinstance(self.mirror_average, bool):
            raise ValueError(
                f"mirror_average must be true or false, got {self.mirror_average!r}"
            )
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != 3 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values
            ):
                raise ValueError(f"{name} must be 3 numbers (R, G, B), got {values!r}")
        if not all(v > 0 for v in self.std):
            raise ValueError(f"std must be positive, got {self.std!r}")
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
        # _check_pixel_count replaces Pillow's size warning with one that
        # names the file. NOTE: catch_warnings changes the process-wide
        # filters, so other threads' warnings of this class are hidden too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _check_pixel_count(path, opened.size)
                # Phones store photos sideways and record the turn in EXIF.
                upright = ImageOps.exif_transpose(opened)
                return _to_rgb(upright)
    except FileNotFoundError as error:
        raise ImageLoadError(f"image not found: {path}", path=path) from error
    except IsADirectoryError as error:
        raise ImageLoadError(
            f"{path} is a folder, not an image file", path=path
        ) from error
    except Image.DecompressionBombError as error:
        # Pillow checks the size inside Image.open, before the size is
        # visible here, and states the pixel count only in its message.
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageLoadError(_too_large_message(path, pixels), path=path) from error
    except (OSError, UnidentifiedImageError) as error:
        raise ImageLoadError(
            f"cannot decode image {path}: {error}", path=path
        ) from error


def _too_large_message(path: Path, pixels: str) -> str:
    return (
        f"image {path} has {pixels}, above the limit of {MAX_IMAGE_PIXELS:,} "
        "pixels that guards against decompression bombs. Scale it down first, "
        "because the recogniser looks at a few hundred pixels per side"
    )


def _check_pixel_count(path: Path, size: tuple[int, int]) -> None:
    """Reject images above MAX_IMAGE_PIXELS and log those above LARGE_IMAGE_PIXELS."""
    width, height = size
    pixels = width * height
    if pixels > MAX_IMAGE_PIXELS:
        raise ImageLoadError(
            _too_large_message(path, f"{width} x {height} = {pixels:,} pixels"),
            path=path,
        )
    if pixels > LARGE_IMAGE_PIXELS:
        logger.warning(
            "large image %s: %d x %d = %d pixels, which take about %d MB to decode",
            path,
            width,
            height,
            pixels,
            pixels * 3 // 1_000_000,
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert to 8-bit RGB, scaling 16-bit grey (modes I;16 and I) down first."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        scaled = np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L").convert("RGB")
    return image.convert("RGB")


def resize_and_crop(image: Image.Image, spec: Preprocessing) -> Image.Image:
    """Resize the shorter side to ``size / crop_fraction`` and crop the centre.

    Only the centre square is resampled, so memory stays at ``size`` squared
    whatever the aspect ratio (a 1 x 5000 px strip would otherwise grow to
    320 x 1.6 million px).
    """
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageLoadError(f"image is {width} x {height} px, which has no pixels")
    short_side = round(spec.size / spec.crop_fraction)
    scale = short_side / min(width, height)
    resized_width = max(spec.size, round(width * scale))
    resized_height = max(spec.size, round(height * scale))
    # The crop in resized pixels, mapped back to source pixels.
    left = (resized_width - spec.size) // 2
    top = (resized_height - spec.size) // 2
    box = (
        left * width / resized_width,
        top * height / resized_height,
        (left + spec.size) * width / resized_width,
        (top + spec.size) * height / resized_height,
    )
    return image.resize((spec.size, spec.size), Image.Resampling.BILINEAR, box=box)


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


def mirror_averaged(
    run: Callable[[npt.NDArray[np.float32]], Logits],
    batch: npt.NDArray[np.float32],
    spec: Preprocessing,
) -> Logits:
    """Run the network on a batch, and on its mirror when ``spec.mirror_average``.

    ``batch`` is an ``(N, 3, H, W)`` network input and ``run`` returns its
    ``(N, C)`` logits. With ``mirror_average`` the result is the mean of the
    logits of the batch and of its left-right mirror. ONNX inference and the
    validation during training (which wraps the torch model in ``run``) both
    call this, so they average the same way.
    """
    logits = run(batch)
    if not spec.mirror_average:
        return logits
    mirrored = np.ascontiguousarray(batch[..., ::-1])
    averaged: Logits = (logits + run(mirrored)) / 2
    return averaged
