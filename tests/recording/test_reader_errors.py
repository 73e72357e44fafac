"""Each kind of malformed recording raises a ``RecordingError`` of one line."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from recording_builders import CHIPS, WATER, RawFiles, raw_files

from walkout.recording import RecordingError, read_recording

Edit = Callable[[RawFiles], None]


def replace_text(name: str, old: str, new: str) -> Edit:
    def edit(files: RawFiles) -> None:
        assert old in files[name], f"{old!r} not in {name}"
        files[name] = files[name].replace(old, new, 1)

    return edit


def set_file(name: str, content: Any) -> Edit:
    def edit(files: RawFiles) -> None:
        files[name] = content

    return edit


def set_json(name: str, keys: tuple[str | int, ...], value: Any) -> Edit:
    def edit(files: RawFiles) -> None:
        node = files[name]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def delete_json(name: str, keys: tuple[str | int, ...]) -> Edit:
    def edit(files: RawFiles) -> None:
        node = files[name]
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def both(*edits: Edit) -> Edit:
    def edit(files: RawFiles) -> None:
        for step in edits:
            step(files)

    return edit


BROKEN_JSON = '{\n  "format": "walkout-recording/1",\n  "store": {,\n}\n'
FIRST_PLATE = ("plates", 0)
FIRST_PRODUCT = ("products", 0)

CASES: list[tuple[str, Edit, list[str]]] = [
    # --- missing files ------------------------------------------------------
    ("missing-store", set_file("store.json", None), ["store.json", "not found"]),
    (
        "missing-weights",
        set_file("weights.csv", None),
        ["weights.csv", "not found", "weights.csv.gz"],
    ),
    (
        "both-weights-files",
        set_file("weights.csv.gz", b""),
        ["weights.csv and weights.csv.gz", "delete the stale one"],
    ),
    # --- JSON syntax and format --------------------------------------------
    (
        "store-invalid-json",
        set_file("store.json", BROKEN_JSON),
        ["store.json:3:", "invalid JSON"],
    ),
    (
        "truth-invalid-json",
        set_file("truth.json", '{"receipts": [}'),
        ["truth.json:1:", "invalid JSON"],
    ),
    (
        "video-invalid-json",
        set_file("video/index.json", "{"),
        ["index.json:1:", "invalid JSON"],
    ),
    (
        "store-nan-constant",
        set_file("store.json", '{"format": NaN}'),
        ["store.json", "NaN"],
    ),
    (
        "store-not-object",
        set_file("store.json", "[1, 2]"),
        ["store.json", "top level", "a list"],
    ),
    (
        "format-missing",
        delete_json("store.json", ("format",)),
        ["store.json", "format is missing", "walkout-recording/1"],
    ),
    (
        "format-wrong",
        set_json("store.json", ("format",), "walkout-recording/2"),
        ["store.json", "'walkout-recording/2'", "'walkout-recording/1'"],
    ),
    # --- store.json fields --------------------------------------------------
    (
        "product-weight-missing",
        delete_json("store.json", ("products", 1, "unit_weight_g")),
        ["store.json", "products[1].unit_weight_g is missing"],
    ),
    (
        "product-weight-string",
        set_json("store.json", (*FIRST_PRODUCT, "unit_weight_g"), "538"),
        ["store.json", "products[0].unit_weight_g", '"538" (a string)'],
    ),
    (
        "product-weight-zero",
        set_json("store.json", (*FIRST_PRODUCT, "unit_weight_g"), 0),
        ["products[0].unit_weight_g", "above 0"],
    ),
    (
        "price-json-float",
        set_json("store.json", (*FIRST_PRODUCT, "price"), 1.0),
        ["store.json", "products[0].price", "1.0 (a number)", "decimal string"],
    ),
    (
        "price-comma",
        set_json("store.json", (*FIRST_PRODUCT, "price"), "1,00"),
        ["products[0].price", '"1,00"'],
    ),
    (
        "sku-number",
        set_json("store.json", (*FIRST_PRODUCT, "sku"), 632565000012),
        ["products[0].sku", "632565000012 (a number)"],
    ),
    (
        "age-restricted-string",
        set_json("store.json", (*FIRST_PRODUCT, "age_restricted"), "yes"),
        ["products[0].age_restricted", "true or false"],
    ),
    (
        "store-info-missing",
        delete_json("store.json", ("store",)),
        ["store.json", "store is missing"],
    ),
    (
        "currency-missing",
        delete_json("store.json", ("store", "currency")),
        ["store.currency is missing"],
    ),
    (
        "plate-center-short",
        set_json("store.json", (*FIRST_PLATE, "center"), [0.6, 0.5]),
        ["plates[0].center", "has 2 values", "3 numbers"],
    ),
    (
        "plate-center-text",
        set_json("store.json", (*FIRST_PLATE, "center"), [0.6, "x", 1.5]),
        ["plates[0].center[1]", '"x" (a string)'],
    ),
    (
        "plate-gondola-fraction",
        set_json("store.json", (*FIRST_PLATE, "gondola"), 1.5),
        ["plates[0].gondola", "1.5", "integer"],
    ),
    (
        "plates-empty",
        both(
            set_json("store.json", ("plates",), []),
            set_json("store.json", ("planogram",), []),
        ),
        ["store.json", "plates is empty"],
    ),
    (
        "products-empty",
        set_json("store.json", ("products",), []),
        ["store.json", "products is empty"],
    ),
    (
        "duplicate-plate",
        set_json("store.json", ("plates", 1, "id"), "1.5.10"),
        ["store.json", "plates[1].id", "'1.5.10'", "plates[0].id"],
    ),
    (
        "duplicate-sku",
        set_json("store.json", ("products", 1, "sku"), WATER),
        ["store.json", "products[1].sku", f"'{WATER}'", "products[0].sku"],
    ),
    (
        "planogram-unknown-sku",
        set_json("store.json", ("planogram", 1, "sku"), "fanta"),
        ["store.json", "planogram[1].sku", "'fanta'", "not in products"],
    ),
    (
        "planogram-unknown-plate",
        set_json("store.json", ("planogram", 0, "plates"), ["1.5.10", "9.9.9"]),
        ["store.json", "planogram[0].plates[1]", "'9.9.9'", "not in plates"],
    ),
    (
        "planogram-negative-qty",
        set_json("store.json", ("planogram", 0, "qty"), -1),
        ["planogram[0].qty", "-1"],
    ),
    (
        "zone-two-corners",
        set_json("store.json", ("zones", 0, "polygon"), [[0, 0], [1, 1]]),
        ["zones[0].polygon", "2 corners"],
    ),
    (
        "camera-k-wrong-shape",
        set_json("store.json", ("cameras", 0, "K"), [[1, 0, 0], [0, 1, 0]]),
        ["cameras[0].K", "2 rows", "3x3"],
    ),
    (
        "staff-not-strings",
        set_json("store.json", ("staff_accounts",), ["staff-7", 8]),
        ["staff_accounts[1]", "8 (a number)"],
    ),
    # --- CSV structure ------------------------------------------------------
    (
        "weights-bad-header",
        replace_text("weights.csv", "t,plate,g", "t,plate,w"),
        ["weights.csv:1:", "'t,plate,w'", "expected columns t,plate,g"],
    ),
    (
        "poses-bad-header",
        replace_text("poses.csv", ",score", ",confidence"),
        ["poses.csv:1:", "missing score", "t,track,joint,x,y,z,score"],
    ),
    (
        "gates-bad-header",
        replace_text("gates.csv", "account", "acct"),
        ["gates.csv:1:", "missing account", "t,action,track,account"],
    ),
    (
        "vision-bad-header",
        replace_text("vision.csv", "hand", "side"),
        ["vision.csv:1:", "missing hand", "t,track,hand,sku,p"],
    ),
    (
        "weights-repeated-column",
        replace_text("weights.csv", "t,plate,g", "t,plate,g,g"),
        ["weights.csv:1:", "repeats column 'g'"],
    ),
    (
        "weights-empty-file",
        set_file("weights.csv", ""),
        ["weights.csv:1:", "is empty"],
    ),
    (
        "weights-header-only",
        set_file("weights.csv", "t,plate,g\n"),
        ["weights.csv", "no readings"],
    ),
    (
        "weights-short-row",
        replace_text("weights.csv", "1580250245.21618,1.5.10,1398.31", "0.5,1.5.10"),
        ["weights.csv:3:", "2 fields, expected 3", "'0.5,1.5.10'"],
    ),
    (
        "weights-blank-line",
        replace_text("weights.csv", "1398.31\n", "1398.31\n\n"),
        ["weights.csv:4:", "blank"],
    ),
    (
        "weights-gzip-corrupt",
        both(set_file("weights.csv", None), set_file("weights.csv.gz", b"not gzip")),
        ["weights.csv.gz", "read failed"],
    ),
    # --- CSV values ---------------------------------------------------------
    (
        "weights-non-numeric-g",
        replace_text("weights.csv", "1398.31", "13g8.31"),
        ["weights.csv:3:", "column g", "'13g8.31'", "not a number"],
    ),
    (
        "weights-non-numeric-t",
        replace_text("weights.csv", "1580250245.23285", "2020-01-28"),
        ["weights.csv:5:", "column t", "'2020-01-28'"],
    ),
    (
        "weights-empty-value",
        replace_text("weights.csv", ",512.4", ","),
        ["weights.csv:6:", "column g", "''"],
    ),
    (
        "weights-nan",
        replace_text("weights.csv", "1398.2\n", "nan\n"),
        ["weights.csv:5:", "column g", "'nan'", "finite"],
    ),
    (
        "weights-infinite",
        replace_text("weights.csv", "512.5", "-inf"),
        ["weights.csv:4:", "'-inf'", "finite"],
    ),
    (
        "weights-unknown-plate",
        replace_text("weights.csv", "2.5.4,512.4", "9.9.9,512.4"),
        ["weights.csv:6:", "plate '9.9.9'", "not in store.json"],
    ),
    (
        "weights-time-backwards",
        replace_text("weights.csv", "1580250245.23285", "1580250245.2"),
        [
            "weights.csv:5:",
            "plate '1.5.10'",
            "t=1580250245.2",
            "t=1580250245.21618",
            "line 3",
        ],
    ),
    (
        "poses-non-numeric-x",
        replace_text("poses.csv", "1.21", "left"),
        ["poses.csv:3:", "column x", "'left'"],
    ),
    (
        "poses-score-above-one",
        replace_text("poses.csv", "0.88", "1.5"),
        ["poses.csv:3:", "column score", "'1.5'", "[0, 1]"],
    ),
    (
        "poses-empty-track",
        replace_text("poses.csv", "12.033,p7,head", "12.033,,head"),
        ["poses.csv:2:", "column track is empty"],
    ),
    (
        "gates-unknown-action",
        replace_text("gates.csv", "exit", "leave"),
        ["gates.csv:3:", "column action is 'leave'", "enter, exit"],
    ),
    (
        "gates-enter-without-account",
        replace_text("gates.csv", "acct-42", ""),
        ["gates.csv:2:", "enter row has an empty account"],
    ),
    (
        "gates-non-numeric-t",
        replace_text("gates.csv", "81.4", "late"),
        ["gates.csv:3:", "column t", "'late'"],
    ),
    (
        "vision-unknown-hand",
        replace_text("vision.csv", "right", "middle"),
        ["vision.csv:2:", "column hand is 'middle'", "left, right"],
    ),
    (
        "vision-p-above-one",
        replace_text("vision.csv", "0.12", "1.2"),
        ["vision.csv:3:", "column p", "'1.2'", "[0, 1]"],
    ),
    (
        "vision-p-negative",
        replace_text("vision.csv", "0.81", "-0.1"),
        ["vision.csv:2:", "column p", "'-0.1'"],
    ),
    (
        "vision-unknown-sku",
        replace_text("vision.csv", f"{CHIPS},", "000000000000,"),
        ["vision.csv:3:", "sku '000000000000'", "not in store.json"],
    ),
    # --- truth.json and video/index.json -----------------------------------
    (
        "truth-unknown-sku",
        set_json("truth.json", ("receipts", 0, "items", 0, "sku"), "fanta"),
        ["truth.json", "receipts[0].items[0].sku", "'fanta'"],
    ),
    (
        "truth-event-unknown-sku",
        set_json("truth.json", ("events", 0, "sku"), "fanta"),
        ["truth.json", "events[0].sku", "'fanta'"],
    ),
    (
        "truth-event-unknown-plate",
        set_json("truth.json", ("events", 0, "plate"), "9.9.9"),
        ["truth.json", "events[0].plate", "'9.9.9'"],
    ),
    (
        "truth-event-unknown-action",
        set_json("truth.json", ("events", 0, "action"), "steal"),
        ["truth.json", "events[0].action", "'steal'", "take or put"],
    ),
    (
        "truth-qty-text",
        set_json("truth.json", ("receipts", 0, "items", 0, "qty"), "1"),
        ["receipts[0].items[0].qty", '"1" (a string)', "integer"],
    ),
    (
        "video-fps-zero",
        set_json("video/index.json", ("1", "fps"), 0),
        ["index.json", '["1"].fps', "above 0"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [pytest.param(edit, expected, id=label) for label, edit, expected in CASES],
)
def test_read_recording_rejects(
    write_recording_files: Callable[[RawFiles], Path],
    edit: Edit,
    expected: list[str],
) -> None:
    files = raw_files()
    edit(files)
    root = write_recording_files(files)

    with pytest.raises(RecordingError) as caught:
        read_recording(root)

    message = str(caught.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message


def test_valid_raw_files_read(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    recording = read_recording(write_recording_files(raw_files()))

    assert len(recording.weights) == 5


def test_missing_directory_named(tmp_path: Path) -> None:
    with pytest.raises(RecordingError) as caught:
        read_recording(tmp_path / "nowhere")

    assert "nowhere" in str(caught.value)
    assert "not found" in str(caught.value)


def test_file_instead_of_directory(tmp_path: Path) -> None:
    file = tmp_path / "store.json"
    file.write_text("{}")

    with pytest.raises(RecordingError) as caught:
        read_recording(file)

    assert "is not a directory" in str(caught.value)


def test_error_in_gzip_weights_has_line(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    text = files.pop("weights.csv").replace("512.5", "5l2.5")
    files["weights.csv.gz"] = gzip.compress(text.encode())
    root = write_recording_files(files)

    with pytest.raises(RecordingError) as caught:
        read_recording(root)

    assert "weights.csv.gz:4:" in str(caught.value)
    assert "'5l2.5'" in str(caught.value)


def test_error_keeps_structured_fields(
    write_recording_files: Callable[[RawFiles], Path],
) -> None:
    files = raw_files()
    files["weights.csv"] = files["weights.csv"].replace("1398.31", "x")
    root = write_recording_files(files)

    with pytest.raises(RecordingError) as caught:
        read_recording(root)

    assert caught.value.path == root / "weights.csv"
    assert caught.value.line == 3
    assert caught.value.hint is not None
