from __future__ import annotations

import numpy as np
import pytest

from walkout.sim import builtin_store, simulate
from walkout.sim.simulate import simulate_rendered
from walkout.sim.vision import (
    DEFAULT_OUTPUTS_PATH,
    RecogniserOutputs,
    SeenItem,
    VisionModel,
    render_vision,
)

needs_outputs = pytest.mark.skipif(
    not DEFAULT_OUTPUTS_PATH.is_file(), reason="models/ outputs file not present"
)


@needs_outputs
def test_outputs_file_has_every_val_image() -> None:
    outputs = RecogniserOutputs.read(DEFAULT_OUTPUTS_PATH)

    assert outputs.images == 296
    for tops in outputs.by_label.values():
        for top in tops:
            assert len(top) == 5


@needs_outputs
def test_lookalike_vision_rows_valid() -> None:
    store = builtin_store()
    recording = simulate(store, "lookalike", 7)

    vision = recording.vision
    assert vision is not None
    assert len(vision) > 0
    assert set(vision.sku) <= set(store.products)
    assert np.all(vision.p >= 0.0)
    assert np.all(vision.p <= 1.0)
    assert set(vision.hand) <= {"left", "right"}
    truth = recording.truth
    assert truth is not None
    assert set(vision.track) <= {event.track for event in truth.events}


@needs_outputs
def test_vision_rows_same_per_seed() -> None:
    store = builtin_store()
    first = simulate(store, "lookalike", 11).vision
    second = simulate(store, "lookalike", 11).vision

    assert first is not None
    assert second is not None
    np.testing.assert_array_equal(first.t, second.t)
    np.testing.assert_array_equal(first.sku, second.sku)
    np.testing.assert_array_equal(first.p, second.p)
    np.testing.assert_array_equal(first.track, second.track)


def test_shared_class_splits_probability() -> None:
    store = builtin_store()
    sku, product = next(iter(store.products.items()))
    assert product.vision_class is not None
    sharing = [
        other
        for other, candidate in store.products.items()
        if candidate.vision_class == product.vision_class
    ]
    outputs = RecogniserOutputs(
        {product.vision_class: (((product.vision_class, 0.9), ("Unknown", 0.1)),)}
    )
    reach = next(
        reach
        for timeline in simulate_rendered(store, "single", 1).timelines
        for reach in timeline.reaches
    )
    vision = render_vision(
        store,
        [SeenItem(reach, sku)],
        outputs,
        VisionModel(missing_rate=0.0, candidates=10),
        np.random.default_rng(0),
    )

    assert sorted(vision.sku) == sorted(sharing)
    assert np.allclose(vision.p, 0.9 / len(sharing))
