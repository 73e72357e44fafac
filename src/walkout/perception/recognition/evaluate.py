"""Top-1 accuracy of a recogniser on an image list."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from walkout.perception.recognition.calibration import expected_calibration_error
from walkout.perception.recognition.errors import ImageLoadError
from walkout.perception.recognition.image_list import (
    check_coarse_ids,
    locate_load_error,
    read_image_list,
)
from walkout.perception.recognition.recogniser import Recogniser

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalResult:
    """Accuracy on an image list, with coarse classes taken from the fine prediction."""

    images: int
    top1_fine: float
    top1_coarse: float
    # Expected calibration error of the top-1 probability (10 bins).
    calibration_error: float


def evaluate(
    list_path: Path,
    root: Path,
    recogniser: Recogniser,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Classify every image of a ``path, fine_id, coarse_id`` list under ``root``.

    Raises :class:`ImageListError` on a malformed line, a missing image or a
    coarse id that disagrees with the model, and :class:`ImageLoadError` on an
    image that cannot be decoded.
    """
    items = read_image_list(list_path, root, num_fine=recogniser.classes.num_fine)
    check_coarse_ids(list_path, items, recogniser.classes)
    fine_correct = 0
    coarse_correct = 0
    probabilities: list[npt.NDArray[np.float32]] = []
    step = recogniser.batch_size
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        try:
            probabilities.append(
                recogniser.probabilities([item.path for item in chunk])
            )
        except ImageLoadError as error:
            raise locate_load_error(error, list_path, chunk) from error
        predicted = probabilities[-1].argmax(axis=1)
        fine_correct += int(np.sum(predicted == [item.fine_id for item in chunk]))
        coarse_correct += sum(
            recogniser.classes.coarse_of_fine[int(p)] == item.coarse_id
            for p, item in zip(predicted, chunk, strict=True)
        )
        if on_progress is not None:
            on_progress(min(start + step, len(items)), len(items))
    result = EvalResult(
        images=len(items),
        top1_fine=fine_correct / len(items),
        top1_coarse=coarse_correct / len(items),
        calibration_error=expected_calibration_error(
            np.concatenate(probabilities), [item.fine_id for item in items]
        ),
    )
    logger.info(
        "evaluated %d images of %s: fine %.4f coarse %.4f",
        result.images,
        list_path,
        result.top1_fine,
        result.top1_coarse,
    )
    return result
