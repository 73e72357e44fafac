"""Simulated vision observations drawn from a real recogniser's stored outputs.

``walkout vision outputs`` runs the product recogniser over the Grocery Store
Dataset's validation images once and stores each image's true fine class and
the model's top classes in ``models/grocery-val-outputs.json``. When a shopper
takes or puts an item, the simulator picks a random stored image of that
product's ``vision_class`` and turns the model's output on it into
``vision.csv`` rows. The simulated errors are therefore the model's actual
errors on real photos, so no images or ONNX Runtime are needed at run time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from walkout.recording.model import Store, VisionObservations
from walkout.sim.plan import Take
from walkout.sim.timeline import Reach

logger = logging.getLogger(__name__)

OUTPUTS_FORMAT = "walkout-recogniser-outputs/1"

DEFAULT_OUTPUTS_PATH = (
    Path(__file__).resolve().parents[3] / "models" / "grocery-val-outputs.json"
)
"""Stored outputs in ``models/`` of a source checkout; wheels do not include it."""


class OutputsFileError(ValueError):
    """A recogniser outputs file is unreadable or malformed."""


@dataclass(frozen=True)
class VisionModel:
    """How often the cameras see an item in a hand, and how much they report."""

    missing_rate: float = 0.3
    """Share of moved items with no observation at all, as when a body or
    shelf edge hides the hand (estimate)."""

    candidates: int = 3
    """Rows written per observation: the most probable SKUs, best first."""

    take_after_s: float = 0.5
    """Latest observation of a taken item after its load change settles."""

    put_before_s: float = 0.5
    """Earliest observation of an item put back, before the hand touches down."""


Candidates = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class RecogniserOutputs:
    """The recogniser's top classes per image, grouped by true fine class."""

    by_label: dict[str, tuple[Candidates, ...]]

    @property
    def images(self) -> int:
        return sum(len(outputs) for outputs in self.by_label.values())

    @classmethod
    def read(cls, path: Path) -> RecogniserOutputs:
        """Read a file written by ``walkout vision outputs``.

        Raises :class:`OutputsFileError` naming the file and the first invalid
        entry.
        """
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise OutputsFileError(f"cannot read {path}: {error}") from error
        if not isinstance(document, dict) or document.get("format") != OUTPUTS_FORMAT:
            raise OutputsFileError(f"{path}: format is not {OUTPUTS_FORMAT!r}")
        entries = document.get("images")
        if not isinstance(entries, list):
            raise OutputsFileError(f"{path}: 'images' must be a list")
        by_label: dict[str, list[Candidates]] = {}
        for index, entry in enumerate(entries):
            try:
                label = str(entry["label"])
                top = tuple((str(name), float(p)) for name, p in entry["top"])
            except (KeyError, TypeError, ValueError) as error:
                raise OutputsFileError(
                    f"{path}: image {index} is invalid ({error!r}); expected "
                    "'label' and 'top' as [[class, p], ...]"
                ) from error
            if not top or any(not 0.0 <= p <= 1.0 for _, p in top):
                raise OutputsFileError(
                    f"{path}: image {index} needs at least one class and "
                    "probabilities in [0, 1]"
                )
            by_label.setdefault(label, []).append(top)
        return cls({label: tuple(tops) for label, tops in by_label.items()})


@cache
def load_outputs(path: Path = DEFAULT_OUTPUTS_PATH) -> RecogniserOutputs | None:
    """Read stored recogniser outputs once per path; None when the file is absent.

    A missing file is logged once and the simulator then writes no vision.
    """
    if not path.is_file():
        logger.warning(
            "recogniser outputs %s not found; simulating without vision. "
            "Create it with 'walkout vision outputs'",
            path,
        )
        return None
    outputs = RecogniserOutputs.read(path)
    logger.info("read recogniser outputs of %d images from %s", outputs.images, path)
    return outputs


@dataclass(frozen=True)
class SeenItem:
    """A product in a hand during a shelf reach that moved it."""

    reach: Reach
    sku: str


def _skus_by_class(store: Store) -> dict[str, list[str]]:
    skus: dict[str, list[str]] = {}
    for sku in sorted(store.products):
        vision_class = store.products[sku].vision_class
        if vision_class is not None:
            skus.setdefault(vision_class, []).append(sku)
    return skus


def _sku_candidates(
    top: Candidates, skus_by_class: dict[str, list[str]], count: int
) -> list[tuple[str, float]]:
    # A class shared by several products splits its probability evenly,
    # and classes that no product of the store has are dropped.
    rows = [
        (sku, p / len(skus_by_class[name]))
        for name, p in top
        if name in skus_by_class
        for sku in skus_by_class[name]
    ]
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows[:count]


def _observation_time(
    reach: Reach, model: VisionModel, rng: np.random.Generator
) -> float:
    if isinstance(reach.action, Take):
        # The lifted item is in the hand from the load step until it leaves.
        start = reach.t_step
        end = max(start, min(reach.t_leave, reach.t_settled + model.take_after_s))
    else:
        start = max(reach.t_out, reach.t_touch - model.put_before_s)
        end = max(start, reach.t_step)
    return float(rng.uniform(start, end))


def render_vision(
    store: Store,
    seen: Sequence[SeenItem],
    outputs: RecogniserOutputs,
    model: VisionModel,
    rng: np.random.Generator,
) -> VisionObservations:
    """Draw one observation per seen item from the stored recogniser outputs.

    Items whose product has no ``vision_class``, or a class without stored
    images, get no observation.
    """
    skus_by_class = _skus_by_class(store)
    t: list[float] = []
    track: list[str] = []
    hand: list[str] = []
    sku: list[str] = []
    p: list[float] = []
    for item in seen:
        vision_class = store.products[item.sku].vision_class
        images = outputs.by_label.get(vision_class or "", ())
        if not images or rng.random() < model.missing_rate:
            continue
        top = images[int(rng.integers(len(images)))]
        when = round(_observation_time(item.reach, model, rng), 3)
        for candidate, probability in _sku_candidates(
            top, skus_by_class, model.candidates
        ):
            t.append(when)
            track.append(item.reach.track)
            hand.append(item.reach.hand)
            sku.append(candidate)
            p.append(round(probability, 4))
    order = np.argsort(np.asarray(t, dtype=np.float64), kind="stable")
    return VisionObservations(
        t=np.asarray(t, dtype=np.float64)[order],
        track=np.asarray(track, dtype=object)[order],
        hand=np.asarray(hand, dtype=object)[order],
        sku=np.asarray(sku, dtype=object)[order],
        p=np.asarray(p, dtype=np.float64)[order],
    )
