"""Temperature scaling recovers a known temperature and measures calibration."""

from __future__ import annotations

import numpy as np
import pytest

from walkout.perception.recognition.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from walkout.perception.recognition.errors import CalibrationError
from walkout.perception.recognition.recogniser import softmax


def _sample(
    temperature: float, rows: int = 4000, classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, list[int]]:
    """Draw labels from softmax(base_logits), then return base_logits * T."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 2.0, (rows, classes))
    probabilities = softmax(base)
    labels = [int(rng.choice(classes, p=row)) for row in probabilities]
    return base * temperature, labels


@pytest.mark.parametrize("temperature", [0.4, 1.0, 2.5])
def test_fit_recovers_generating_temperature(
    temperature: float,
) -> None:
    logits, labels = _sample(temperature)

    fitted = fit_temperature(logits, labels)

    assert fitted == pytest.approx(temperature, rel=0.08)
    assert negative_log_likelihood(logits, labels, fitted) <= negative_log_likelihood(
        logits, labels, 1.0
    )


def test_calibration_error_falls_after_fitting() -> None:
    logits, labels = _sample(0.4)

    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(
        softmax(logits / fit_temperature(logits, labels)), labels
    )

    assert before > 0.1
    assert after < 0.03


def test_calibration_error_of_a_known_case() -> None:
    # Two rows at confidence 0.9, one right and one wrong: gap |0.9 - 0.5|.
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1]])

    assert expected_calibration_error(probabilities, [0, 1]) == pytest.approx(0.4)


def test_fit_rejects_mismatched_input() -> None:
    with pytest.raises(ValueError, match="one label per logit row"):
        fit_temperature(np.zeros((3, 2)), [0, 1])


def test_fit_rejects_too_few_images() -> None:
    logits, labels = _sample(0.5, rows=5)

    with pytest.raises(CalibrationError, match="at least 20 images, got 5"):
        fit_temperature(logits, labels)


def test_fit_rejects_all_correct_images() -> None:
    # Every label is the top class, so the likelihood keeps rising as the
    # temperature falls and no temperature is best.
    logits = np.tile(np.array([[3.0, 0.0, 0.0]]), (40, 1))

    with pytest.raises(CalibrationError, match="gets all 40 images right"):
        fit_temperature(logits, [0] * 40)
