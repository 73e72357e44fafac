"""store.json: parse it into a ``Store`` and turn a ``Store`` back into JSON data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from walkout.recording._json import JsonObject, load_json
from walkout.recording.errors import RecordingError
from walkout.recording.model import (
    RECORDING_FORMAT,
    Camera,
    Facing,
    Plate,
    Product,
    Store,
    StoreInfo,
    Zone,
)

STORE_FILE = "store.json"


def check_format(root: JsonObject, expected: str) -> None:
    """Reject a document whose ``format`` field is not ``expected``."""
    if "format" not in root.data:
        raise root.error(
            "format", "is missing", f'add "format": "{expected}" at the top level'
        )
    found = root.data["format"]
    if found != expected:
        raise root.error(
            "format",
            f"is {found!r}",
            f"expected {expected!r}, the only version this reader supports",
        )


def parse_store(file: Path) -> Store:
    """Read and validate store.json."""
    root = JsonObject(file, "", load_json(file))
    check_format(root, RECORDING_FORMAT)

    info_object = root.child("store")
    info = StoreInfo(
        id=info_object.text("id"),
        name=info_object.text("name"),
        currency=info_object.text("currency"),
    )
    products = _parse_products(root)
    plates = _parse_plates(root)
    planogram = [
        _parse_facing(entry, products, plates) for entry in root.objects("planogram")
    ]
    zones = [_parse_zone(entry) for entry in root.objects("zones", optional=True)]
    staff = frozenset(root.texts("staff_accounts", optional=True))
    cameras = _parse_cameras(root)

    return Store(
        info=info,
        products=products,
        plates=plates,
        planogram=planogram,
        zones=zones,
        staff_accounts=staff,
        cameras=cameras,
    )


def _reject_empty(root: JsonObject, key: str, entries: list[JsonObject]) -> None:
    if not entries:
        raise root.error(key, "is empty", f"a store needs at least one entry in {key}")


def _parse_products(root: JsonObject) -> dict[str, Product]:
    entries = root.objects("products")
    _reject_empty(root, "products", entries)

    products: dict[str, Product] = {}
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        sku = entry.text("sku")
        if sku in products:
            raise entry.error(
                "sku",
                f"{sku!r} repeats products[{first_index[sku]}].sku",
                "give each product a unique SKU",
            )
        first_index[sku] = index
        products[sku] = Product(
            sku=sku,
            name=entry.text("name"),
            price=entry.decimal("price"),
            unit_weight_g=entry.number("unit_weight_g", positive=True),
            unit_weight_sd_g=entry.optional_number("unit_weight_sd_g", minimum=0.0),
            age_restricted=entry.flag("age_restricted", default=False),
            vision_class=entry.optional_text("vision_class"),
        )
    return products


def _parse_plates(root: JsonObject) -> dict[str, Plate]:
    entries = root.objects("plates")
    _reject_empty(root, "plates", entries)

    plates: dict[str, Plate] = {}
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        plate_id = entry.text("id")
        if plate_id in plates:
            raise entry.error(
                "id",
                f"{plate_id!r} repeats plates[{first_index[plate_id]}].id",
                "give each plate a unique id",
            )
        first_index[plate_id] = index
        center = entry.numbers("center", length=3)
        size = entry.numbers("size", length=2)
        if min(size) <= 0:
            raise entry.error("size", f"is {size}", "expected two lengths above 0")
        plates[plate_id] = Plate(
            id=plate_id,
            gondola=entry.integer("gondola"),
            shelf=entry.integer("shelf"),
            plate=entry.integer("plate"),
            center=(center[0], center[1], center[2]),
            size=(size[0], size[1]),
            max_load_g=entry.optional_number("max_load_g", positive=True),
        )
    return plates


def _parse_facing(
    entry: JsonObject, products: dict[str, Product], plates: dict[str, Plate]
) -> Facing:
    sku = entry.text("sku")
    if sku not in products:
        raise entry.error(
            "sku", f"{sku!r} is not in products", "add the product or fix the SKU"
        )
    plate_ids = entry.texts("plates")
    if not plate_ids:
        raise entry.error("plates", "is empty", "list at least one plate id")
    for index, plate_id in enumerate(plate_ids):
        if plate_id not in plates:
            raise entry.error(
                f"plates[{index}]",
                f"{plate_id!r} is not in plates",
                "add the plate or fix the id",
            )
    return Facing(
        sku=sku, plates=tuple(plate_ids), qty=entry.optional_integer("qty", minimum=0)
    )


def _parse_zone(entry: JsonObject) -> Zone:
    zone_id = entry.text("id")
    kind = entry.text("kind")
    corners = entry.matrix("polygon", None, 2)
    if len(corners) < 3:
        raise entry.error(
            "polygon",
            f"has {len(corners)} corners",
            "a polygon needs at least 3 [x, y] corners",
        )
    polygon = tuple((float(x), float(y)) for x, y in corners)
    return Zone(id=zone_id, kind=kind, polygon=polygon)


def _parse_cameras(root: JsonObject) -> list[Camera]:
    cameras: list[Camera] = []
    seen: set[str] = set()
    for entry in root.objects("cameras", optional=True):
        camera_id = entry.text("id")
        if camera_id in seen:
            raise entry.error(
                "id", f"{camera_id!r} repeats", "give each camera a unique id"
            )
        seen.add(camera_id)
        width = entry.integer("width", minimum=1)
        height = entry.integer("height", minimum=1)

        K = entry.matrix("K", 3, 3)
        if entry.flag("K_normalised", default=False):
            # The first row is divided by the width and the second by the height.
            K[0, :] *= width
            K[1, :] *= height

        cameras.append(
            Camera(
                id=camera_id,
                width=width,
                height=height,
                K=K,
                dist=np.asarray(entry.numbers("dist"), dtype=np.float64),
                world_to_camera=entry.matrix("world_to_camera", 4, 4),
            )
        )
    return cameras


# --- writing ---------------------------------------------------------------


def store_document(store: Store) -> dict[str, Any]:
    """Return store.json's content for ``store``, with optional fields only when set."""
    document: dict[str, Any] = {
        "format": RECORDING_FORMAT,
        "store": {
            "id": store.info.id,
            "name": store.info.name,
            "currency": store.info.currency,
        },
        "products": [_product_document(product) for product in store.products.values()],
        "plates": [_plate_document(plate) for plate in store.plates.values()],
        "planogram": [_facing_document(facing) for facing in store.planogram],
    }
    if store.zones:
        document["zones"] = [
            {
                "id": zone.id,
                "kind": zone.kind,
                "polygon": [list(corner) for corner in zone.polygon],
            }
            for zone in store.zones
        ]
    if store.staff_accounts:
        document["staff_accounts"] = sorted(store.staff_accounts)
    if store.cameras:
        document["cameras"] = [_camera_document(camera) for camera in store.cameras]
    return document


def _product_document(product: Product) -> dict[str, Any]:
    document: dict[str, Any] = {
        "sku": product.sku,
        "name": product.name,
        "price": format(product.price, "f"),
        "unit_weight_g": product.unit_weight_g,
    }
    if product.unit_weight_sd_g is not None:
        document["unit_weight_sd_g"] = product.unit_weight_sd_g
    if product.age_restricted:
        document["age_restricted"] = True
    if product.vision_class is not None:
        document["vision_class"] = product.vision_class
    return document


def _plate_document(plate: Plate) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": plate.id,
        "gondola": plate.gondola,
        "shelf": plate.shelf,
        "plate": plate.plate,
        "center": list(plate.center),
        "size": list(plate.size),
    }
    if plate.max_load_g is not None:
        document["max_load_g"] = plate.max_load_g
    return document


def _facing_document(facing: Facing) -> dict[str, Any]:
    document: dict[str, Any] = {"sku": facing.sku, "plates": list(facing.plates)}
    if facing.qty is not None:
        document["qty"] = facing.qty
    return document


def _camera_document(camera: Camera) -> dict[str, Any]:
    return {
        "id": camera.id,
        "width": camera.width,
        "height": camera.height,
        "K": camera.K.tolist(),
        "dist": camera.dist.tolist(),
        "world_to_camera": camera.world_to_camera.tolist(),
    }


def read_store_file(directory: Path) -> Store:
    """Parse ``directory``/store.json, rejecting a recording without one."""
    file = directory / STORE_FILE
    if not file.is_file():
        raise RecordingError(
            file, "not found", hint="a recording needs store.json with its layout"
        )
    return parse_store(file)
