"""Measure product-recogniser images per second on one CPU core with ONNX Runtime.

Usage: python benchmarks/recognition_speed.py DATASET_DIR [--images N] [--batch B]
    [--model PATH]

DATASET_DIR is the Grocery Store Dataset folder with val.txt. Run with
``taskset -c 0`` so that the number is per core; the script also sets ONNX
Runtime to one thread. It prints two rates: the network alone on
preprocessed batches, and the whole path from a JPEG file to top-5 classes,
which runs the network twice per image when the model's preprocessing
averages over the mirror image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from walkout.perception.recognition import DEFAULT_MODEL_PATH, Recogniser
from walkout.perception.recognition.preprocess import preprocess_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="folder with val.txt")
    parser.add_argument("--images", type=int, default=128, help="images to time")
    parser.add_argument("--batch", type=int, default=8, help="images per batch")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args()

    lines = (args.dataset / "val.txt").read_text().splitlines()[: args.images]
    paths = [args.dataset / line.split(",")[0].strip() for line in lines]
    recogniser = Recogniser(args.model, threads=1, batch_size=args.batch)
    spec = recogniser.preprocessing

    # Network alone: preprocessed batches, one warm-up run first.
    batches = [
        preprocess_batch(list(paths[i : i + args.batch]), spec)
        for i in range(0, len(paths), args.batch)
    ]
    session = recogniser._session
    name = recogniser._input_name
    session.run(None, {name: batches[0]})
    started = time.perf_counter()
    for batch in batches:
        session.run(None, {name: batch})
    network_rate = len(paths) / (time.perf_counter() - started)

    # Whole path: decode, preprocess, run, softmax and top-5.
    started = time.perf_counter()
    recogniser.predict(paths, top_k=5)
    full_rate = len(paths) / (time.perf_counter() - started)

    # Batch of one: latency of a single image through the network.
    single = batches[0][:1]
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        session.run(None, {name: single})
        timings.append(time.perf_counter() - started)

    passes = 2 if spec.mirror_average else 1
    print(f"model: {args.model.name}, input {spec.size} px, batch {args.batch}")
    print(f"network only, one pass: {network_rate:.1f} images/s")
    print(f"JPEG to top-5, {passes} pass(es) per image: {full_rate:.1f} images/s")
    print(f"batch-1 latency: {np.median(timings) * 1000:.1f} ms (median of 20)")


if __name__ == "__main__":
    main()
