"""Product recognition: which grocery item is in the picture.

EfficientNet-Lite2 fine-tuned on the Grocery Store Dataset (81 fine classes,
each mapped to one of its coarse classes), exported to ONNX and run with ONNX
Runtime. Inference (:class:`Recogniser`) needs numpy, Pillow and onnxruntime;
training (``walkout.perception.recognition.train``) also needs torch.
"""

from walkout.perception.recognition.errors import (
    ImageListError,
    ImageLoadError,
    ModelFileError,
    RecognitionError,
)
from walkout.perception.recognition.evaluate import EvalResult, evaluate
from walkout.perception.recognition.image_list import LabelledImage, read_image_list
from walkout.perception.recognition.labels import ClassMap, LabelsFile
from walkout.perception.recognition.preprocess import Preprocessing, preprocess
from walkout.perception.recognition.recogniser import (
    DEFAULT_MODEL_PATH,
    Prediction,
    Recogniser,
)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "ClassMap",
    "EvalResult",
    "ImageListError",
    "ImageLoadError",
    "LabelledImage",
    "LabelsFile",
    "ModelFileError",
    "Prediction",
    "Preprocessing",
    "Recogniser",
    "RecognitionError",
    "evaluate",
    "preprocess",
    "read_image_list",
]
