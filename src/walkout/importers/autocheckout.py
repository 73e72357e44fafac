"""Import an AiFi NanoStore test case (AutoCheckout competition, 2020).

A test-case folder contains ``weight_csv/``, ``products_planogram.csv`` and
``video/camN.mp4``. The store layout and calibration lie in the sibling
``store_meta/`` and the hand labels in ``ground_truth_cmu/v14.json``.
``build_recording`` turns them into a ``Recording`` in memory and
``import_autocheckout`` also writes it and copies the videos.
docs/importers.md gives the reason for each mapping decision.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from walkout.importers._errors import AutocheckoutImportError
from walkout.importers._labels import (
    build_truth,
    dataset_events,
    labelled_products,
)
from walkout.importers._layout import (
    PlateGeometry,
    load_json_file,
    read_cameras,
    read_plates,
)
from walkout.importers._mp4 import read_mp4_timing
from walkout.importers._skus import assign_skus, upcs_by_name
from walkout.recording import (
    Facing,
    FloatArray,
    GateEvent,
    Plate,
    Product,
    Recording,
    Store,
    StoreInfo,
    VideoFile,
    WeightReadings,
    write_recording,
)

__all__ = [
    "AutocheckoutImportError",
    "ImportReport",
    "ProgressCallback",
    "build_recording",
    "import_autocheckout",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

STORE_INFO = StoreInfo(id="nanostore", name="AiFi NanoStore", currency="USD")
# Each plate sits on a load cell rated for 20 kg.
PLATE_MAX_LOAD_G = 20000.0
# Spread of one unit's weight as a share of its mean: the median sample
# standard deviation over the 78 products of the AIM3S store that were
# weighed at least twice (25th to 75th percentile: 0.7% to 2.9%).
UNIT_WEIGHT_RELATIVE_SD = 0.013
# The NanoStore cameras record at 10 frames per second.
DEFAULT_FPS = 10.0
# A video whose length differs from the weights window by more than this
# is reported, because its start time assumes both begin together.
VIDEO_WINDOW_TOLERANCE_S = 1.0

_WEIGHT_FILE = re.compile(r"^gondola_(\d+)_shelf_(\d+)_plate_(\d+)\.csv$")
_VIDEO_FILE = re.compile(r"^cam(\d+)\.mp4$")

# The published footage and sample frames number the store's eight working
# cameras 1 to 8, while calibration.json numbers all twelve. Footage N was
# filmed by calibration camera FOOTAGE_CAMERAS[N]: with this table the plates
# project onto the visible shelves in frames 6 and 8, the videos triangulate
# 120 joints across cameras instead of 52, and triangulated heads stand
# 1.5 to 1.9 m tall instead of above the 2.4 m cameras (docs/perception.md).
FOOTAGE_CAMERAS = {
    "1": "1",
    "2": "2",
    "3": "5",
    "4": "6",
    "5": "9",
    "6": "10",
    "7": "11",
    "8": "12",
}
_PLANOGRAM_COLUMNS = ("Name", "Gondola", "Shelf", "Plate", "Weight", "Price")


@dataclass
class ImportReport:
    """Summary of an import, for the user to check."""

    dataset: str
    plates: int = 0
    plate_files_skipped: list[str] = field(default_factory=list)
    plates_without_readings: list[str] = field(default_factory=list)
    readings: int = 0
    rows_resorted: dict[str, int] = field(default_factory=dict)
    products: int = 0
    products_unplaced: int = 0
    products_dropped: list[str] = field(default_factory=list)
    facings: int = 0
    skus_from_upc: int = 0
    skus_from_slug: int = 0
    cameras: int = 0
    videos: int = 0
    labelled_events: int = 0
    labelled_events_matched: int = 0
    events_timed_from_weights: int = 0
    accounts: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_resorted_total(self) -> int:
        return sum(self.rows_resorted.values())


def import_autocheckout(
    src: Path,
    out: Path,
    *,
    store_meta: Path | None = None,
    labels: Path | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Convert the NanoStore test case ``src`` into a recording at ``out``.

    ``store_meta`` defaults to ``src/../store_meta`` and ``labels`` to
    ``src/../ground_truth_cmu/v14.json``. The videos are copied to
    ``out/video/N.mp4``.
    """
    recording, report = build_recording(
        src, store_meta=store_meta, labels=labels, progress=progress
    )
    write_recording(recording, out)

    video_dir = out / "video"
    video_dir.mkdir(parents=True, exist_ok=True)
    total = len(recording.video)
    footage_of = {camera: footage for footage, camera in FOOTAGE_CAMERAS.items()}
    for done, (camera_id, video) in enumerate(sorted(recording.video.items()), 1):
        source = src / "video" / f"cam{footage_of[camera_id]}.mp4"
        shutil.copyfile(source, video_dir / video.file)
        if progress is not None:
            progress("videos", done, total)
    logger.info("wrote %s from %s", out, src)
    return report


def build_recording(
    src: Path,
    *,
    store_meta: Path | None = None,
    labels: Path | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Recording, ImportReport]:
    """Read the NanoStore test case ``src`` into a recording, writing nothing."""
    src = Path(src)
    if not src.is_dir():
        raise AutocheckoutImportError(
            src, "test-case folder not found", "pass a folder such as cps-test-01"
        )
    weight_dir = src / "weight_csv"
    if not weight_dir.is_dir():
        raise AutocheckoutImportError(
            weight_dir, "weight_csv folder not found", "pass a test case with weights"
        )
    store_meta = store_meta or src.parent / "store_meta"
    if not store_meta.is_dir():
        raise AutocheckoutImportError(
            store_meta, "store_meta folder not found", "pass --store-meta"
        )
    labels = labels or src.parent / "ground_truth_cmu" / "v14.json"
    report = ImportReport(dataset=src.name)

    # Layout: plates and cameras.
    geometry = read_plates(store_meta)
    cameras = read_cameras(store_meta)
    report.cameras = len(cameras)

    # Load cells: only plates that Plates.json places.
    weights = _read_weights(weight_dir, geometry, report, progress)
    plates = {plate_id: _plate(geometry[plate_id]) for plate_id in weights.plate_ids}
    report.plates = len(plates)
    report.plates_without_readings = sorted(set(geometry) - set(plates), key=_plate_key)
    report.readings = len(weights)

    # Catalogue and planogram; the labels supply the UPCs.
    label_document = load_json_file(labels, "hand labels")
    upcs = upcs_by_name(labelled_products(label_document))
    products, facings = _read_catalogue(
        src / "products_planogram.csv", upcs, plates, report
    )

    # Truth and gates from the labels of this test case.
    start_t = weights.time_span[0]
    truth = None
    gates: list[GateEvent] = []
    events = dataset_events(label_document, src.name)
    if events is None:
        report.warnings.append(
            f"{labels}: no entry for dataset {src.name!r}; imported without truth"
        )
    else:
        labelled = build_truth(
            events,
            labels_path=labels,
            products_by_name={p.name: p for p in products.values()},
            products_by_sku=products,
            plate_ids=set(plates),
            weights=weights,
            start_t=start_t,
        )
        for product in labelled.added_products:
            products[product.sku] = product
            report.warnings.append(
                f"labelled product {product.name!r} ({product.sku}) is not in "
                "the planogram file; added from the label"
            )
        truth = labelled.truth
        report.labelled_events = labelled.events_total
        report.labelled_events_matched = labelled.events_matched
        report.events_timed_from_weights = labelled.events_timed_from_weights
        report.accounts = len(truth.receipts)
        report.warnings.extend(labelled.warnings)
        gates = [
            GateEvent(t=start_t, action="enter", track=r.account, account=r.account)
            for r in truth.receipts
        ]
    report.products = len(products)

    video = _index_videos(src / "video", weights, {c.id for c in cameras}, report)
    store = Store(
        info=STORE_INFO,
        products=products,
        plates=plates,
        planogram=facings,
        cameras=cameras,
    )
    recording = Recording(
        store=store, weights=weights, gates=gates, video=video, truth=truth
    )
    for warning in report.warnings:
        logger.warning("%s: %s", src.name, warning)
    return recording, report


# --- plates and weights ----------------------------------------------------


def _plate_key(plate_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in plate_id.split("."))


def _plate(geometry: PlateGeometry) -> Plate:
    return Plate(
        id=geometry.id,
        gondola=geometry.gondola,
        shelf=geometry.shelf,
        plate=geometry.plate,
        center=geometry.center,
        size=geometry.size,
        max_load_g=PLATE_MAX_LOAD_G,
    )


def _read_weights(
    weight_dir: Path,
    geometry: dict[str, PlateGeometry],
    report: ImportReport,
    progress: ProgressCallback | None,
) -> WeightReadings:
    """Read the per-plate CSVs of plates in ``geometry``, each sorted by time."""
    files: dict[str, Path] = {}
    for path in sorted(weight_dir.iterdir()):
        match = _WEIGHT_FILE.match(path.name)
        if match is None:
            report.warnings.append(f"{path.name}: not a plate weight file; skipped")
            continue
        plate_id = ".".join(str(int(part)) for part in match.groups())
        if plate_id in geometry:
            files[plate_id] = path
        else:
            report.plate_files_skipped.append(plate_id)
    report.plate_files_skipped.sort(key=_plate_key)
    if not files:
        raise AutocheckoutImportError(
            weight_dir,
            "no weight file of a plate listed in Plates.json",
            "check that weight_csv and store_meta belong to the same store",
        )

    plate_ids = tuple(sorted(files, key=_plate_key))
    times: list[FloatArray] = []
    grams: list[FloatArray] = []
    for done, plate_id in enumerate(plate_ids, 1):
        t, g = _read_plate_csv(files[plate_id])
        order = np.argsort(t, kind="stable")
        moved = int(np.count_nonzero(order != np.arange(len(t))))
        if moved:
            report.rows_resorted[plate_id] = moved
        times.append(t[order])
        grams.append(g[order])
        if progress is not None:
            progress("weights", done, len(plate_ids))

    counts = [len(t) for t in times]
    return WeightReadings(
        plate_ids=plate_ids,
        t=np.concatenate(times),
        plate=np.repeat(np.arange(len(plate_ids), dtype=np.int32), counts),
        g=np.concatenate(grams),
    )


def _read_plate_csv(path: Path) -> tuple[FloatArray, FloatArray]:
    """Read one headerless "unix_t, grams" file."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as error:
        raise AutocheckoutImportError(
            path,
            f"unreadable weight file ({error})",
            "each row must be 'unix_seconds,grams'; replace or remove the file",
        ) from error
    if table.shape[0] == 0 or table.shape[1] != 2:
        raise AutocheckoutImportError(
            path,
            f"expected rows of 2 numbers, got shape {table.shape}",
            "each row must be 'unix_seconds,grams'; replace or remove the file",
        )
    if not np.isfinite(table).all():
        row = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0]) + 1
        raise AutocheckoutImportError(
            path, f"row {row} holds a non-finite value", "replace or remove the file"
        )
    return table[:, 0].copy(), table[:, 1].copy()


# --- catalogue and planogram -----------------------------------------------


@dataclass
class _CatalogueRow:
    weight: float
    price: Decimal
    plates: list[str] = field(default_factory=list)


def _read_catalogue(
    path: Path,
    upcs: dict[str, str],
    plates: dict[str, Plate],
    report: ImportReport,
) -> tuple[dict[str, Product], list[Facing]]:
    """Read products_planogram.csv into products and one facing per product."""
    rows = _read_catalogue_rows(path, report)

    # The format requires a positive unit weight.
    for name in [name for name, row in rows.items() if row.weight <= 0]:
        report.products_dropped.append(name)
        if rows[name].plates:
            report.warnings.append(
                f"placed product {name!r} has no positive weight; dropped with "
                "its facing"
            )
        del rows[name]

    skus, sku_warnings = assign_skus(rows, upcs)
    report.warnings.extend(sku_warnings)
    products: dict[str, Product] = {}
    facings: list[Facing] = []
    for name, row in rows.items():
        sku = skus[name]
        if sku == upcs.get(name):
            report.skus_from_upc += 1
        else:
            report.skus_from_slug += 1
        products[sku] = Product(
            sku=sku,
            name=name,
            price=row.price,
            unit_weight_g=row.weight,
            unit_weight_sd_g=round(row.weight * UNIT_WEIGHT_RELATIVE_SD, 3),
        )
        known = [plate for plate in row.plates if plate in plates]
        for plate in row.plates:
            if plate not in plates:
                report.warnings.append(
                    f"planogram puts {name!r} on plate {plate}, which has no "
                    "weights or no place in Plates.json; that plate is left out"
                )
        if known:
            facings.append(Facing(sku=sku, plates=tuple(sorted(known, key=_plate_key))))
        else:
            report.products_unplaced += 1
    report.facings = len(facings)
    return products, facings


def _read_catalogue_rows(path: Path, report: ImportReport) -> dict[str, _CatalogueRow]:
    """Return one entry per product name, in file order, with its placed plates.

    Of a name's rows, the first with a positive weight sets weight and price.
    """
    if not path.is_file():
        raise AutocheckoutImportError(
            path, "product catalogue not found", "add products_planogram.csv"
        )
    rows: dict[str, _CatalogueRow] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [
                c for c in _PLANOGRAM_COLUMNS if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise AutocheckoutImportError(
                    path,
                    f"missing columns {missing}",
                    f"the header must hold {', '.join(_PLANOGRAM_COLUMNS)}",
                )
            for line, record in enumerate(reader, 2):
                _add_catalogue_row(rows, record, path, line, report)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise AutocheckoutImportError(
            path, f"unreadable catalogue ({error})", "replace it with a valid copy"
        ) from error
    return rows


def _add_catalogue_row(
    rows: dict[str, _CatalogueRow],
    record: dict[str, str],
    path: Path,
    line: int,
    report: ImportReport,
) -> None:
    name = record["Name"].strip()
    try:
        weight = float(record["Weight"] or "0")
        price = Decimal(record["Price"]).quantize(Decimal("0.01"))
        position = [int(record[column]) for column in ("Gondola", "Shelf", "Plate")]
    except (ValueError, InvalidOperation, TypeError) as error:
        raise AutocheckoutImportError(
            f"{path}:{line}",
            f"invalid number in row of {name!r} ({error})",
            "Gondola, Shelf and Plate must be integers, Weight and Price numbers",
        ) from error
    if not price.is_finite() or price < 0:
        raise AutocheckoutImportError(
            f"{path}:{line}",
            f"price {record['Price']!r} of {name!r} is invalid",
            "give a price of 0 or more",
        )

    entry = rows.get(name)
    if entry is None:
        entry = rows[name] = _CatalogueRow(weight=weight, price=price)
    elif entry.weight <= 0 < weight:
        entry.weight, entry.price = weight, price
    elif weight > 0 and (weight, price) != (entry.weight, entry.price):
        report.warnings.append(
            f"{path.name}:{line}: {name!r} repeats with weight {weight} and price "
            f"{price}; keeping {entry.weight} and {entry.price}"
        )
    if -1 not in position:
        entry.plates.append(".".join(str(part) for part in position))


# --- videos ----------------------------------------------------------------


def _index_videos(
    video_dir: Path,
    weights: WeightReadings,
    camera_ids: set[str],
    report: ImportReport,
) -> dict[str, VideoFile]:
    """Index camN.mp4 files; each starts with the first weight reading."""
    if not video_dir.is_dir():
        return {}
    start, end = weights.time_span
    index: dict[str, VideoFile] = {}
    for path in sorted(video_dir.iterdir()):
        match = _VIDEO_FILE.match(path.name)
        if match is None:
            continue
        footage = str(int(match.group(1)))
        camera_id = FOOTAGE_CAMERAS.get(footage, "")
        if camera_id not in camera_ids:
            report.warnings.append(f"{path.name}: camera {footage} is not calibrated")
            continue
        fps = DEFAULT_FPS
        try:
            timing = read_mp4_timing(path)
        except (OSError, ValueError) as error:
            report.warnings.append(
                f"{path.name}: cannot read its length ({error}); assuming {fps} fps"
            )
        else:
            fps = round(timing.fps, 3) if timing.fps else DEFAULT_FPS
            if abs(timing.duration_s - (end - start)) > VIDEO_WINDOW_TOLERANCE_S:
                report.warnings.append(
                    f"{path.name}: lasts {timing.duration_s:.1f} s but the weights "
                    f"span {end - start:.1f} s; its start time may be off"
                )
        index[camera_id] = VideoFile(file=f"{camera_id}.mp4", start_t=start, fps=fps)
    report.videos = len(index)
    return index
