"""Write a recording, read it back, and get the same data in the format's layout."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from recording_builders import CHIPS, WATER, RawFiles, raw_files, sample_recording

from walkout.recording import (
    GateEvent,
    Recording,
    WeightReadings,
    read_recording,
    read_truth,
    write_recording,
)
from walkout.recording._files import replace_atomically


def assert_same_recording(expected: Recording, actual: Recording) -> None:
    """Compare two recordings field by field (numpy arrays by value)."""
    assert actual.store.info == expected.store.info
    assert actual.store.products == expected.store.products
    assert list(actual.store.products) == list(expected.store.products)
    assert actual.store.plates == expected.store.plates
    assert list(actual.store.plates) == list(expected.store.plates)
    assert actual.store.planogram == expected.store.planogram
    assert actual.store.zones == expected.store.zones
    assert actual.store.staff_accounts == expected.store.staff_accounts
    assert len(actual.store.cameras) == len(expected.store.cameras)
    for got, want in zip(actual.store.cameras, expected.store.cameras, strict=True):
        assert (got.id, got.width, got.height) == (want.id, want.width, want.height)
        np.testing.assert_array_equal(got.K, want.K)
        np.testing.assert_array_equal(got.dist, want.dist)
        np.testing.assert_array_equal(got.world_to_camera, want.world_to_camera)

    assert actual.weights.plate_ids == expected.weights.plate_ids
    np.testing.assert_array_equal(actual.weights.t, expected.weights.t)
    np.testing.assert_array_equal(actual.weights.plate, expected.weights.plate)
    np.testing.assert_array_equal(actual.weights.g, expected.weights.g)
    assert actual.weights.plate.dtype == np.int32

    assert (actual.poses is None) == (expected.poses is None)
    if actual.poses is not None and expected.poses is not None:
        np.testing.assert_array_equal(actual.poses.t, expected.poses.t)
        assert list(actual.poses.track) == list(expected.poses.track)
        assert list(actual.poses.joint) == list(expected.poses.joint)
        np.testing.assert_array_equal(actual.poses.xyz, expected.poses.xyz)
        np.testing.assert_array_equal(actual.poses.score, expected.poses.score)

    assert actual.gates == expected.gates

    assert (actual.vision is None) == (expected.vision is None)
    if actual.vision is not None and expected.vision is not None:
        np.testing.assert_array_equal(actual.vision.t, expected.vision.t)
        assert list(actual.vision.track) == list(expected.vision.track)
        assert list(actual.vision.hand) == list(expected.vision.hand)
        assert list(actual.vision.sku) == list(expected.vision.sku)
        np.testing.assert_array_equal(actual.vision.p, expected.vision.p)

    assert actual.video == expected.video
    assert actual.truth == expected.truth


@pytest.mark.parametrize("gzip_weights", [False, True], ids=["csv", "gz"])
def test_roundtrip_every_file(tmp_path: Path, gzip_weights: bool) -> None:
    recording = sample_recording()
    target = tmp_path / "new" / "recording"

    write_recording(recording, target, gzip_weights=gzip_weights)
    loaded = read_recording(target)

    assert_same_recording(recording, loaded)
    assert loaded.path == target
    weights_name = "weights.csv.gz" if gzip_weights else "weights.csv"
    assert (target / weights_name).is_file()


def test_roundtrip_only_required_files(tmp_path: Path) -> None:
    full = sample_recording()
    recording = Recording(store=full.store, weights=full.weights)

    write_recording(recording, tmp_path)
    loaded = read_recording(tmp_path)

    assert_same_recording(recording, loaded)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "store.json",
        "weights.csv",
    ]


def test_rewrite_is_byte_identical(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path / "a", gzip_weights=True)
    write_recording(read_recording(tmp_path / "a"), tmp_path / "b", gzip_weights=True)

    for name in ["store.json", "weights.csv.gz", "poses.csv", "truth.json"]:
        first = (tmp_path / "a" / name).read_bytes()
        second = (tmp_path / "b" / name).read_bytes()
        assert first == second, name


def test_timestamps_keep_every_digit(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path)

    lines = (tmp_path / "weights.csv").read_text().splitlines()

    assert lines[0] == "t,plate,g"
    assert lines[1].startswith("1580250245.19951,1.5.10,")


def test_store_json_layout(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path)

    document = json.loads((tmp_path / "store.json").read_text())

    assert document["format"] == "walkout-recording/1"
    water, chips, beer = document["products"]
    assert water["price"] == "1.00"
    assert water["unit_weight_sd_g"] == 4.0
    assert "age_restricted" not in water
    assert "vision_class" not in chips
    assert "unit_weight_sd_g" not in chips
    assert beer["age_restricted"] is True
    assert "qty" not in document["planogram"][1]
    assert "max_load_g" not in document["plates"][1]
    assert "K_normalised" not in document["cameras"][0]


def test_gates_exit_account_is_empty(tmp_path: Path) -> None:
    recording = sample_recording()
    recording.gates = [
        GateEvent(3.2, "enter", "p7", "a-1"),
        GateEvent(81.4, "exit", "p7", None),
    ]
    write_recording(recording, tmp_path)

    lines = (tmp_path / "gates.csv").read_text().splitlines()

    assert lines[0] == "t,action,track,account"
    assert lines[-1] == "81.4,exit,p7,"


def test_text_with_comma_is_quoted(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path)

    text = (tmp_path / "poses.csv").read_text()

    assert '"p,8"' in text
    assert text.splitlines()[0] == "t,track,joint,x,y,z,score"


@pytest.mark.parametrize(
    ("first_gzip", "second_gzip", "kept", "removed"),
    [
        pytest.param(False, True, "weights.csv.gz", "weights.csv", id="csv-to-gz"),
        pytest.param(True, False, "weights.csv", "weights.csv.gz", id="gz-to-csv"),
    ],
)
def test_stale_weights_file_removed(
    tmp_path: Path, first_gzip: bool, second_gzip: bool, kept: str, removed: str
) -> None:
    recording = sample_recording()

    write_recording(recording, tmp_path, gzip_weights=first_gzip)
    write_recording(recording, tmp_path, gzip_weights=second_gzip)

    assert (tmp_path / kept).is_file()
    assert not (tmp_path / removed).exists()
    assert_same_recording(recording, read_recording(tmp_path))


def test_stale_optional_files_removed(tmp_path: Path) -> None:
    full = sample_recording()
    write_recording(full, tmp_path)
    (tmp_path / "poses.csv.gz").write_bytes(gzip.compress(b"t,track\n"))
    bare = Recording(store=full.store, weights=full.weights)

    write_recording(bare, tmp_path)

    for name in ["poses.csv", "poses.csv.gz", "gates.csv", "vision.csv", "truth.json"]:
        assert not (tmp_path / name).exists(), name
    assert not (tmp_path / "video" / "index.json").exists()
    assert_same_recording(bare, read_recording(tmp_path))


def test_no_temporary_files_left(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path, gzip_weights=True)

    leftovers = [path.name for path in tmp_path.rglob("*.tmp")]

    assert leftovers == []


def test_written_files_readable_by_others(tmp_path: Path) -> None:
    write_recording(sample_recording(), tmp_path)

    mode = (tmp_path / "weights.csv").stat().st_mode & 0o777

    assert mode == 0o644


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "store.json"
    target.write_text("old")

    with pytest.raises(RuntimeError), replace_atomically(target) as sink:
        sink.write(b"half")
        raise RuntimeError("disk full")

    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["store.json"]


def test_bad_plate_index_rejected_before_writing(tmp_path: Path) -> None:
    recording = sample_recording()
    recording.weights.plate[3] = 7

    with pytest.raises(ValueError, match="outside"):
        write_recording(recording, tmp_path)

    assert not (tmp_path / "weights.csv").exists()


# --- reading details --------------------------------------------------------


def test_weights_grouped_by_plate(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    weights = read_recording(write_recording_files(raw_files())).weights

    assert weights.plate_ids == ("1.5.10", "2.5.4")
    assert weights.plate.tolist() == [0, 0, 0, 1, 1]
    assert weights.g.tolist() == [1398.28, 1398.31, 1398.2, 512.5, 512.4]
    assert weights.t[0] == 1580250245.19951


def test_weights_plate_order_follows_store(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    files["store.json"]["plates"].reverse()

    weights = read_recording(write_recording_files(files)).weights

    assert weights.plate_ids == ("2.5.4", "1.5.10")
    assert weights.g.tolist() == [512.5, 512.4, 1398.28, 1398.31, 1398.2]


def test_many_interleaved_weights_grouped(tmp_path: Path) -> None:
    # Rows of all plates interleaved round-robin, as a live feed writes them.
    recording = sample_recording()
    plate_count, per_plate = 3, 20_000
    t = np.repeat(np.arange(per_plate) / 60.0, plate_count)
    plate = np.tile(np.arange(plate_count, dtype=np.int32), per_plate)
    g = np.arange(t.size, dtype=np.float64)
    recording.weights = WeightReadings(recording.weights.plate_ids, t, plate, g)
    write_recording(recording, tmp_path, gzip_weights=True)

    weights = read_recording(tmp_path).weights

    assert len(weights) == t.size
    series = list(weights.series())
    assert [len(plate_series.t) for plate_series in series] == [per_plate] * plate_count
    for index, plate_series in enumerate(series):
        np.testing.assert_array_equal(plate_series.g, g[plate == index])
        np.testing.assert_array_equal(plate_series.t, t[plate == index])


def test_equal_times_allowed(write_recording_files: Callable[[RawFiles], Path]) -> None:
    files = raw_files()
    files["weights.csv"] = files["weights.csv"].replace(
        "1580250245.21618", "1580250245.19951"
    )

    weights = read_recording(write_recording_files(files)).weights

    assert weights.t[0] == weights.t[1]


def test_extra_columns_ignored(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    files["weights.csv"] = "raw,t,plate,g\n" + "".join(
        f"0,{line}\n" for line in files["weights.csv"].splitlines()[1:]
    )

    weights = read_recording(write_recording_files(files)).weights

    assert len(weights) == 5


def test_trailing_blank_lines_and_crlf(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    files["weights.csv"] = files["weights.csv"].replace("\n", "\r\n") + "\r\n\r\n"

    weights = read_recording(write_recording_files(files)).weights

    assert len(weights) == 5


def test_optional_spec_fields_read(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    store = read_recording(write_recording_files(raw_files())).store

    water, chips = store.products[WATER], store.products[CHIPS]
    assert water.price == Decimal("1.00")
    assert water.unit_weight_sd_g == 4.0
    assert water.vision_class == "bottled-water"
    assert water.age_restricted is False
    assert chips.age_restricted is True
    assert chips.unit_weight_sd_g is None
    assert store.planogram[0].qty == 6
    assert store.planogram[1].qty is None
    assert store.plates["1.5.10"].max_load_g == 20000.0
    assert store.staff_accounts == frozenset({"staff-7"})


def test_normalised_k_becomes_pixels(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    [camera] = read_recording(write_recording_files(raw_files())).store.cameras

    expected = [[320.0, 0.0, 320.0], [0.0, 360.0, 180.0], [0.0, 0.0, 1.0]]
    np.testing.assert_array_equal(camera.K, expected)


def test_optional_files_absent(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = {name: raw_files()[name] for name in ["store.json", "weights.csv"]}

    recording = read_recording(write_recording_files(files))

    assert recording.poses is None
    assert recording.vision is None
    assert recording.gates == []
    assert recording.video == {}
    assert recording.truth is None


def test_streams_read_from_raw_files(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    recording = read_recording(write_recording_files(raw_files()))

    assert recording.poses is not None
    assert recording.poses.xyz.shape == (2, 3)
    assert list(recording.poses.joint) == ["head", "left_wrist"]
    assert [gate.account for gate in recording.gates] == ["acct-42", None]
    assert recording.vision is not None
    assert list(recording.vision.sku) == [WATER, CHIPS]
    assert recording.video["1"].fps == 10.0


def test_read_truth_standalone(tmp_path: Path) -> None:
    file = tmp_path / "truth.json"
    file.write_text(
        json.dumps(
            {
                "receipts": [
                    {
                        "account": "a",
                        "items": [{"sku": "x", "qty": 1}, {"sku": "x", "qty": 2}],
                    },
                    {"account": "b", "items": []},
                ]
            }
        )
    )

    truth = read_truth(file)

    assert [receipt.account for receipt in truth.receipts] == ["a", "b"]
    assert truth.receipts[0].items == {"x": 3}
    assert truth.receipts[1].items == {}
    assert truth.events == []


def test_header_only_streams_are_empty(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    for name in ["poses.csv", "gates.csv", "vision.csv"]:
        files[name] = files[name].splitlines()[0] + "\n"

    recording = read_recording(write_recording_files(files))

    assert recording.poses is not None
    assert len(recording.poses) == 0
    assert recording.poses.xyz.shape == (0, 3)
    assert recording.gates == []
    assert recording.vision is not None
    assert len(recording.vision) == 0
