"""Small recordings for the recording tests: raw file contents and in-memory objects."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from walkout.recording import (
    Camera,
    Facing,
    GateEvent,
    Plate,
    PoseSamples,
    Product,
    Recording,
    Store,
    StoreInfo,
    Truth,
    TruthEvent,
    TruthReceipt,
    VideoFile,
    VisionObservations,
    WeightReadings,
    Zone,
)

WATER = "632565000012"
CHIPS = "071063437089"

STORE_DOCUMENT: dict[str, Any] = {
    "format": "walkout-recording/1",
    "store": {"id": "tiny", "name": "Tiny Store", "currency": "USD"},
    "products": [
        {
            "sku": WATER,
            "name": "FIJI WATER .5 LTR",
            "price": "1.00",
            "unit_weight_g": 538.0,
            "unit_weight_sd_g": 4.0,
            "vision_class": "bottled-water",
        },
        {
            "sku": CHIPS,
            "name": "Taco Bell Fire",
            "price": "2.49",
            "unit_weight_g": 105.5,
            "age_restricted": True,
        },
    ],
    "plates": [
        {
            "id": "1.5.10",
            "gondola": 1,
            "shelf": 5,
            "plate": 10,
            "center": [0.63, 0.49, 1.52],
            "size": [0.1016, 0.4064],
            "max_load_g": 20000,
        },
        {
            "id": "2.5.4",
            "gondola": 2,
            "shelf": 5,
            "plate": 4,
            "center": [1.63, 0.49, 1.52],
            "size": [0.1016, 0.4064],
        },
    ],
    "planogram": [
        {"sku": WATER, "plates": ["1.5.10"], "qty": 6},
        {"sku": CHIPS, "plates": ["2.5.4"]},
    ],
    "zones": [
        {"id": "door", "kind": "entry", "polygon": [[0, -2], [1, -2], [1, -1.5]]},
    ],
    "staff_accounts": ["staff-7"],
    "cameras": [
        {
            "id": "1",
            "width": 640,
            "height": 360,
            "K": [[0.5, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]],
            "K_normalised": True,
            "dist": [0.1, -0.01, 0, 0, 0],
            "world_to_camera": [
                [1, 0, 0, 0.1],
                [0, 1, 0, 0.2],
                [0, 0, 1, 2.5],
                [0, 0, 0, 1],
            ],
        }
    ],
}

WEIGHTS_TEXT = (
    "t,plate,g\n"
    "1580250245.19951,1.5.10,1398.28\n"
    "1580250245.21618,1.5.10,1398.31\n"
    "1580250245.20012,2.5.4,512.5\n"
    "1580250245.23285,1.5.10,1398.2\n"
    "1580250245.21679,2.5.4,512.4\n"
)
POSES_TEXT = (
    "t,track,joint,x,y,z,score\n"
    "12.033,p7,head,1.02,0.33,1.71,0.93\n"
    "12.033,p7,left_wrist,1.21,0.41,1.12,0.88\n"
)
GATES_TEXT = "t,action,track,account\n3.20,enter,p7,acct-42\n81.4,exit,p7,\n"
VISION_TEXT = (
    f"t,track,hand,sku,p\n21.35,p7,right,{WATER},0.81\n21.35,p7,right,{CHIPS},0.12\n"
)
TRUTH_DOCUMENT: dict[str, Any] = {
    "receipts": [{"account": "acct-42", "items": [{"sku": WATER, "qty": 1}]}],
    "events": [
        {
            "t": 21.4,
            "track": "p7",
            "action": "take",
            "sku": WATER,
            "qty": 1,
            "plate": "1.5.10",
        }
    ],
}
VIDEO_DOCUMENT: dict[str, Any] = {"1": {"file": "1.mp4", "start_t": 12.0, "fps": 10}}

RawFiles = dict[str, Any]
"""File name inside the recording to its content: text, bytes, or JSON data."""


def raw_files() -> RawFiles:
    """Return a fresh, valid set of every file of a recording."""
    return {
        "store.json": copy.deepcopy(STORE_DOCUMENT),
        "weights.csv": WEIGHTS_TEXT,
        "poses.csv": POSES_TEXT,
        "gates.csv": GATES_TEXT,
        "vision.csv": VISION_TEXT,
        "truth.json": copy.deepcopy(TRUTH_DOCUMENT),
        "video/index.json": copy.deepcopy(VIDEO_DOCUMENT),
    }


def write_raw(root: Path, files: RawFiles) -> Path:
    """Write ``files`` under ``root``, skipping files whose content is ``None``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if content is None:
            continue
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, str):
            target.write_text(content)
        else:
            target.write_text(json.dumps(content, indent=2))
    return root


def sample_recording() -> Recording:
    """Build a recording that sets every optional file and field of the format."""
    store = Store(
        info=StoreInfo(id="tiny", name="Tiny Store", currency="USD"),
        products={
            WATER: Product(
                WATER,
                "FIJI WATER .5 LTR",
                Decimal("1.00"),
                538.0,
                unit_weight_sd_g=4.0,
                vision_class="bottled-water",
            ),
            CHIPS: Product(CHIPS, "Taco Bell Fire", Decimal("2.49"), 105.5),
            "beer": Product(
                "beer", "Lager, 6 pack", Decimal("9.99"), 2100.0, age_restricted=True
            ),
        },
        plates={
            "1.5.10": Plate(
                "1.5.10", 1, 5, 10, (0.63, 0.49, 1.52), (0.1016, 0.4064), 20000.0
            ),
            "1.5.11": Plate("1.5.11", 1, 5, 11, (0.73, 0.49, 1.52), (0.1016, 0.4064)),
            "2.5.4": Plate("2.5.4", 2, 5, 4, (1.63, 0.49, 1.52), (0.1016, 0.4064)),
        },
        planogram=[
            Facing(WATER, ("1.5.10", "1.5.11"), qty=6),
            Facing(CHIPS, ("2.5.4",)),
            Facing("beer", ("2.5.4",), qty=0),
        ],
        zones=[Zone("door", "entry", ((0.0, -2.0), (1.0, -2.0), (1.0, -1.5)))],
        staff_accounts=frozenset({"staff-7"}),
        cameras=[
            Camera(
                "1",
                640,
                360,
                np.array([[320.0, 0.0, 320.0], [0.0, 360.0, 180.0], [0.0, 0.0, 1.0]]),
                np.array([0.1, -0.01, 0.0, 0.0, 0.0]),
                np.eye(4),
            )
        ],
    )

    rng = np.random.default_rng(7)
    per_plate = 50
    start = 1580250245.19951
    ticks = np.arange(per_plate) / 60.0
    t = np.concatenate([start + ticks, start + 0.003 + ticks])
    weights = WeightReadings(
        plate_ids=("1.5.10", "1.5.11", "2.5.4"),
        t=t,
        plate=np.repeat(np.array([0, 2], dtype=np.int32), per_plate),
        g=rng.normal(1400.0, 0.5, 2 * per_plate),
    )
    poses = PoseSamples(
        t=np.array([12.033, 12.033, 12.1]),
        track=np.array(["p7", "p7", "p,8"], dtype=object),
        joint=np.array(["head", "left_wrist", "right_wrist"], dtype=object),
        xyz=np.array([[1.02, 0.33, 1.71], [1.21, 0.41, 1.12], [0.1, 0.2, 0.3]]),
        score=np.array([0.93, 0.88, 1.0]),
    )
    vision = VisionObservations(
        t=np.array([21.35, 21.35]),
        track=np.array(["p7", "p7"], dtype=object),
        hand=np.array(["right", "right"], dtype=object),
        sku=np.array([WATER, CHIPS], dtype=object),
        p=np.array([0.81, 0.12]),
    )
    truth = Truth(
        receipts=[
            TruthReceipt("acct-42", {WATER: 1, CHIPS: 2}),
            TruthReceipt("acct-9", {}),
        ],
        events=[TruthEvent(21.4, "p7", "take", WATER, 1, "1.5.10")],
    )
    return Recording(
        store=store,
        weights=weights,
        poses=poses,
        gates=[
            GateEvent(3.2, "enter", "p7", "acct-42"),
            GateEvent(3.9, "enter", "p,8", "acct-42"),
            GateEvent(81.4, "exit", "p7", None),
        ],
        vision=vision,
        video={"1": VideoFile("1.mp4", 12.0, 10.0)},
        truth=truth,
    )
