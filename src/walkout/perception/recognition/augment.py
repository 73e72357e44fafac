"""Training-time augmentation with Pillow and numpy (torchvision is not used)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance


@dataclass(frozen=True)
class AugmentParams:
    """Random resized crop, horizontal flip and colour jitter settings.

    Smaller ``min_crop_area`` and larger jitter strengths make training
    images more varied, which helps a small data set generalise but slows
    convergence within a fixed number of epochs.
    """

    min_crop_area: float = 0.25
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    flip_probability: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3


def random_resized_crop(
    image: Image.Image, size: int, params: AugmentParams, rng: np.random.Generator
) -> Image.Image:
    """Cut a random region of random area and aspect ratio and resize it to ``size``.

    Falls back to the centred largest square after 10 rejected draws.
    """
    width, height = image.size
    area = width * height
    log_low, log_high = (math.log(r) for r in params.aspect_ratio_range)
    for _ in range(10):
        target_area = area * rng.uniform(params.min_crop_area, 1.0)
        aspect = math.exp(rng.uniform(log_low, log_high))
        crop_width = round(math.sqrt(target_area * aspect))
        crop_height = round(math.sqrt(target_area / aspect))
        if 0 < crop_width <= width and 0 < crop_height <= height:
            left = int(rng.integers(0, width - crop_width + 1))
            top = int(rng.integers(0, height - crop_height + 1))
            box = (left, top, left + crop_width, top + crop_height)
            return image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    return image.resize((size, size), Image.Resampling.BILINEAR, box=box)


def colour_jitter(
    image: Image.Image, params: AugmentParams, rng: np.random.Generator
) -> Image.Image:
    """Scale brightness, contrast and saturation by random factors, in random order."""
    enhancers = [
        (ImageEnhance.Brightness, params.brightness),
        (ImageEnhance.Contrast, params.contrast),
        (ImageEnhance.Color, params.saturation),
    ]
    for index in rng.permutation(len(enhancers)):
        enhancer, strength = enhancers[int(index)]
        if strength > 0:
            factor = rng.uniform(1.0 - strength, 1.0 + strength)
            image = enhancer(image).enhance(factor)
    return image


def augment(
    image: Image.Image, size: int, params: AugmentParams, rng: np.random.Generator
) -> Image.Image:
    """Apply crop, flip and colour jitter to one RGB training image."""
    image = random_resized_crop(image, size, params, rng)
    if rng.uniform() < params.flip_probability:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return colour_jitter(image, params, rng)
