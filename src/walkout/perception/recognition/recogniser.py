"""Product recognition with ONNX Runtime: images in, top-k classes out.

Imports numpy, Pillow and onnxruntime only, never torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from walkout.perception.recognition.errors import ModelFileError
from walkout.perception.recognition.labels import ClassMap, LabelsFile, labels_path_for
from walkout.perception.recognition.preprocess import (
    ImageInput,
    Preprocessing,
    mirror_averaged,
    preprocess_batch,
)

logger = logging.getLogger(__name__)


def model_filename(backbone: str) -> str:
    """Return the file name of a recogniser trained from ``backbone``."""
    return f"grocery-efficientnet-{backbone}.onnx"


MODEL_FILENAME = model_filename("lite2")
# The committed model is in models/ at the top of a source checkout. An
# installed wheel does not contain it, so pass ``model_path`` there.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[4] / "models" / MODEL_FILENAME


@dataclass(frozen=True)
class Prediction:
    """One candidate class of an image with its softmax probability."""

    fine_id: int
    label: str
    coarse_label: str
    p: float


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Return row-wise softmax probabilities of ``(N, C)`` logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: npt.NDArray[np.float32] = exp / exp.sum(axis=1, keepdims=True)
    return result


class Recogniser:
    """EfficientNet-Lite grocery classifier run with ONNX Runtime on the CPU.

    ``threads`` sets ONNX Runtime's intra-op thread count (0 lets it pick one
    per physical core). ``batch_size`` bounds how many images go through the
    network at once, which bounds memory.
    """

    def __init__(
        self,
        model_path: Path | str = DEFAULT_MODEL_PATH,
        labels_path: Path | str | None = None,
        *,
        threads: int = 0,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort

        model_path = Path(model_path)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not model_path.is_file():
            raise ModelFileError(
                f"model not found: {model_path}. Train one with "
                "'walkout vision train --data DIR --out models/'"
            )
        labels_path = Path(labels_path) if labels_path else labels_path_for(model_path)
        if not labels_path.is_file():
            raise ModelFileError(
                f"labels file not found: {labels_path}. It must sit beside the "
                "model with the same stem and the suffix .labels.json"
            )
        labels_file = LabelsFile.read(labels_path)
        self.classes: ClassMap = labels_file.classes
        self.preprocessing: Preprocessing = labels_file.preprocessing
        self.temperature: float = labels_file.temperature
        self.batch_size = batch_size

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelFileError(
                f"cannot load ONNX model {model_path}: {error}"
            ) from error
        self._input_name: str = self._session.get_inputs()[0].name
        input_shape = self._session.get_inputs()[0].shape
        fixed_sides = [side for side in input_shape[2:] if isinstance(side, int)]
        if any(side != self.preprocessing.size for side in fixed_sides):
            raise ModelFileError(
                f"{model_path} takes {input_shape[2]} x {input_shape[3]} px input "
                f"but {labels_path} sets size {self.preprocessing.size}"
            )
        outputs = self._session.get_outputs()[0].shape
        if outputs[-1] != self.classes.num_fine:
            raise ModelFileError(
                f"{model_path} has {outputs[-1]} outputs but its labels file "
                f"lists {self.classes.num_fine} classes"
            )
        logger.info(
            "loaded %s (%d classes, %d px input)",
            model_path,
            self.classes.num_fine,
            self.preprocessing.size,
        )

    def logits(self, images: Sequence[ImageInput]) -> npt.NDArray[np.float32]:
        """Return the ``(N, num_classes)`` logits of the images."""
        _check_image_sequence(images)
        chunks: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(images), self.batch_size):
            batch = preprocess_batch(
                list(images[start : start + self.batch_size]), self.preprocessing
            )
            chunks.append(mirror_averaged(self._run, batch, self.preprocessing))
        if not chunks:
            return np.zeros((0, self.classes.num_fine), dtype=np.float32)
        return np.concatenate(chunks)

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        (output,) = self._session.run(None, {self._input_name: batch})
        return np.asarray(output, dtype=np.float32)

    def probabilities(self, images: Sequence[ImageInput]) -> npt.NDArray[np.float32]:
        """Return the ``(N, num_classes)`` softmax probabilities of the images."""
        return softmax(self.logits(images) / self.temperature)

    def predict(
        self, images: Sequence[ImageInput], top_k: int = 5
    ) -> list[list[Prediction]]:
        """Return the ``top_k`` most probable classes of each image, best first.

        Images are Pillow images, file paths or ``(H, W, 3)`` uint8 RGB arrays.
        """
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        probabilities = self.probabilities(images)
        k = min(top_k, self.classes.num_fine)
        results: list[list[Prediction]] = []
        for row in probabilities:
            best = np.argsort(-row, kind="stable")[:k]
            results.append(
                [
                    Prediction(
                        fine_id=int(i),
                        label=self.classes.fine_names[int(i)],
                        coarse_label=self.classes.coarse_name(int(i)),
                        p=float(row[i]),
                    )
                    for i in best
                ]
            )
        return results


def _check_image_sequence(images: object) -> None:
    # A lone path or array would otherwise be iterated character by character
    # or row by row.
    if isinstance(images, str | Path | np.ndarray) or not isinstance(images, Sequence):
        raise TypeError(
            "pass a list of images (Pillow images, paths or RGB arrays), "
            f"got {type(images).__name__}"
        )
