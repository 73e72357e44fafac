"""Temperature scaling: make the recogniser's probabilities match its accuracy.

Fusion multiplies the recogniser's probabilities into the evidence of each
take or put, so a model that outputs 0.4 when it is right 87 % of the time
gives its correct predictions too little weight. Temperature scaling (Guo
et al., "On Calibration of Modern Neural Networks", ICML 2017) divides the
logits by one scalar ``T`` fitted on held-out images. The ranking of
classes, and so top-1 accuracy, does not change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from walkout.perception.recognition.errors import CalibrationError

# Bounds of the fitted temperature. Outside them a model is either nearly
# one-hot or nearly uniform, and a fit there means the data is wrong.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
# Fewer images than this cannot tell a good temperature from a lucky one.
MIN_CALIBRATION_IMAGES = 20


def _log_softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    result: npt.NDArray[np.float64] = shifted - np.log(
        np.exp(shifted).sum(axis=1, keepdims=True)
    )
    return result


def negative_log_likelihood(
    logits: npt.NDArray[Any], labels: Sequence[int], temperature: float = 1.0
) -> float:
    """Return the mean negative log-likelihood of ``labels`` under ``logits / T``."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    rows = np.arange(len(labels))
    return float(-_log_softmax(scaled)[rows, np.asarray(labels)].mean())


def fit_temperature(logits: npt.NDArray[Any], labels: Sequence[int]) -> float:
    """Return the temperature that minimises the negative log-likelihood.

    ``logits`` is ``(N, C)`` and ``labels`` contains the true class of each row.
    Raises ``ValueError`` on mismatched input, and :class:`CalibrationError`
    on fewer than ``MIN_CALIBRATION_IMAGES`` rows, on rows that are all
    classified correctly (no finite temperature is best then), or on a fit
    that ends at a bound.
    """
    if len(labels) != len(logits):
        raise ValueError(
            f"need one label per logit row, got {len(labels)} labels "
            f"for {len(logits)} rows"
        )
    if len(labels) < MIN_CALIBRATION_IMAGES:
        raise CalibrationError(
            f"fitting a temperature needs at least {MIN_CALIBRATION_IMAGES} "
            f"images, got {len(labels)}"
        )
    if bool((np.asarray(logits).argmax(axis=1) == np.asarray(labels)).all()):
        raise CalibrationError(
            f"the model gets all {len(labels)} images right, so every lower "
            "temperature fits them better. Add images that it gets wrong"
        )
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, math.exp(log_t)),
        bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)),
        method="bounded",
    )
    temperature = float(math.exp(result.x))
    if not MIN_TEMPERATURE * 1.01 < temperature < MAX_TEMPERATURE * 0.99:
        raise CalibrationError(
            f"the fitted temperature {temperature:.4f} reached a bound "
            f"({MIN_TEMPERATURE}..{MAX_TEMPERATURE}). Use more images, with "
            "some the model gets wrong"
        )
    return temperature


def expected_calibration_error(
    probabilities: npt.NDArray[Any], labels: Sequence[int], bins: int = 10
) -> float:
    """Return the expected calibration error of the top-1 confidence.

    Rows are grouped into ``bins`` equal-width bins by their top probability.
    The result is the mean gap between each bin's mean confidence and its
    accuracy, weighted by the bin's share of rows, so 0 is perfectly
    calibrated.
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_of_row = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        members = bin_of_row == index
        if members.any():
            gap = abs(confidence[members].mean() - correct[members].mean())
            error += members.mean() * gap
    return float(error)
