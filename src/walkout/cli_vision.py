"""``walkout vision``: train and evaluate the grocery product recogniser."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from walkout.perception.recognition.errors import RecognitionError

logger = logging.getLogger(__name__)
console = Console()
error_console = Console(stderr=True)

vision_app = typer.Typer(
    help="Train and evaluate the product recogniser (EfficientNet-Lite, ONNX).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    error_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    return typer.Exit(2)


@vision_app.command("train")
def train_command(
    data: Annotated[
        Path,
        typer.Option(
            help="Grocery Store Dataset folder with train.txt, val.txt and "
            "classes.csv (or the folder that contains dataset/)."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder to write the ONNX model and labels JSON to.")
    ] = Path("models"),
    backbone: Annotated[
        str,
        typer.Option(
            help="ImageNet backbone: lite0, lite1 or lite2 (EfficientNet-Lite)."
        ),
    ] = "lite2",
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 12,
    image_size: Annotated[
        int, typer.Option(min=32, help="Training crop size in pixels.")
    ] = 256,
    seed: Annotated[
        int, typer.Option(help="Seed of weights init and augmentation.")
    ] = 0,
    threads: Annotated[int, typer.Option(min=1, help="Torch CPU threads.")] = 2,
    max_images: Annotated[
        int | None,
        typer.Option(help="Use only the first N train and val images (smoke tests)."),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after N optimiser steps (smoke tests).")
    ] = None,
) -> None:
    """Fine-tune EfficientNet-Lite from ImageNet weights and export it to ONNX."""
    try:
        from walkout.perception.recognition.train import (
            EpochReport,
            TrainConfig,
            train,
        )
    except ImportError as error:
        raise _fail(
            f"training needs the perception extra ({error}). Install it with: "
            "pip install 'walkout[perception]'"
        ) from error

    from walkout.perception.recognition.network import variant_named

    try:
        variant_named(backbone)
    except ValueError as error:
        raise _fail(f"--backbone: {error}") from error
    config = TrainConfig(
        backbone=backbone,
        epochs=epochs,
        image_size=image_size,
        eval_sizes=tuple(sorted({image_size, *TrainConfig.eval_sizes})),
        seed=seed,
        threads=threads,
        max_images=max_images,
        max_steps=max_steps,
    )

    def show_epoch(report: EpochReport) -> None:
        console.print(
            f"epoch {report.epoch}/{report.epochs}  loss {report.train_loss:.4f}  "
            f"val fine {report.val_top1_fine:.4f}  coarse {report.val_top1_coarse:.4f}"
            f"  ({report.seconds:.0f} s)"
        )

    try:
        result = train(data, out, config, on_epoch=show_epoch)
    except (RecognitionError, FileNotFoundError) as error:
        raise _fail(str(error)) from error
    for score in result.preprocessing_scores:
        candidate = score.preprocessing
        mirror = ", mirror average" if candidate.mirror_average else ""
        console.print(
            f"val at {candidate.size} px, crop {candidate.crop_fraction:g}{mirror}: "
            f"fine {score.val_top1_fine:.4f}  coarse {score.val_top1_coarse:.4f}",
            highlight=False,
        )
    spec = result.preprocessing
    console.print(
        f"wrote {result.model_path} and {result.labels_path} "
        f"in {result.train_seconds:.0f} s; inference at {spec.size} px, "
        f"crop {spec.crop_fraction:g}"
        + (", mirror average" if spec.mirror_average else "")
    )
    console.print(
        f"val top1_fine={result.val_top1_fine:.4f} "
        f"top1_coarse={result.val_top1_coarse:.4f}",
        highlight=False,
    )


ImageListArgument = Annotated[
    Path,
    typer.Argument(
        metavar="LIST", help="Image list with 'path, fine_id, coarse_id' lines."
    ),
]
ImageRootArgument = Annotated[
    Path, typer.Argument(help="Folder that the list's image paths are relative to.")
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        help="ONNX model, with its labels JSON beside it "
        "(default: models/grocery-efficientnet-lite2.onnx)."
    ),
]
OnnxThreadsOption = Annotated[
    int, typer.Option(min=0, help="ONNX Runtime threads (0: one per core).")
]


@vision_app.command("eval")
def eval_command(
    image_list: ImageListArgument,
    root: ImageRootArgument,
    model: ModelOption = None,
    threads: OnnxThreadsOption = 0,
) -> None:
    """Print fine and coarse top-1 accuracy of the recogniser on an image list."""
    from walkout.perception.recognition.evaluate import evaluate
    from walkout.perception.recognition.recogniser import (
        DEFAULT_MODEL_PATH,
        Recogniser,
    )

    try:
        recogniser = Recogniser(model or DEFAULT_MODEL_PATH, threads=threads)
        result = evaluate(image_list, root, recogniser)
    except ImportError as error:
        raise _fail(
            f"inference needs the perception extra ({error}). Install it with: "
            "pip install 'walkout[perception]'"
        ) from error
    except RecognitionError as error:
        raise _fail(str(error)) from error

    console.print(f"images: {result.images}", highlight=False)
    console.print(f"fine top-1:   {result.top1_fine:.2%}", highlight=False)
    console.print(f"coarse top-1: {result.top1_coarse:.2%}", highlight=False)
    console.print(
        f"calibration error (ECE, 10 bins): {result.calibration_error:.4f}",
        highlight=False,
    )
    console.print(
        f"top1_fine={result.top1_fine:.4f} top1_coarse={result.top1_coarse:.4f}",
        highlight=False,
        soft_wrap=True,
    )


@vision_app.command("calibrate")
def calibrate_command(
    image_list: ImageListArgument,
    root: ImageRootArgument,
    model: ModelOption = None,
    threads: OnnxThreadsOption = 0,
) -> None:
    """Fit the softmax temperature on an image list and store it in the labels JSON.

    Use images the model was not trained on. Top-1 accuracy does not change,
    but the probabilities that fusion weighs do.
    """
    from walkout.perception.recognition.calibration import (
        expected_calibration_error,
        fit_temperature,
    )
    from walkout.perception.recognition.image_list import read_image_list
    from walkout.perception.recognition.labels import labels_path_for, set_temperature
    from walkout.perception.recognition.recogniser import (
        DEFAULT_MODEL_PATH,
        Recogniser,
        softmax,
    )

    model_path = model or DEFAULT_MODEL_PATH
    try:
        recogniser = Recogniser(model_path, threads=threads)
        items = read_image_list(image_list, root, num_fine=recogniser.classes.num_fine)
        labels = [item.fine_id for item in items]
        logits = recogniser.logits([item.path for item in items])
        temperature = fit_temperature(logits, labels)
    except ImportError as error:
        raise _fail(
            f"inference needs the perception extra ({error}). Install it with: "
            "pip install 'walkout[perception]'"
        ) from error
    except RecognitionError as error:
        raise _fail(
            f"{image_list}: {error}. The labels file was not changed"
        ) from error
    before = expected_calibration_error(
        softmax(logits / recogniser.temperature), labels
    )
    after = expected_calibration_error(softmax(logits / temperature), labels)
    labels_path = labels_path_for(model_path)
    try:
        set_temperature(labels_path, temperature)
    except OSError as error:
        raise _fail(f"cannot write {labels_path}: {error}") from error
    console.print(
        f"temperature {recogniser.temperature:.4f} -> {temperature:.4f} "
        f"on {len(items)} images; calibration error (ECE, 10 bins) "
        f"{before:.4f} -> {after:.4f}; wrote {labels_path}",
        highlight=False,
    )


@vision_app.command("outputs")
def outputs_command(
    image_list: ImageListArgument,
    root: ImageRootArgument,
    out: Annotated[
        Path, typer.Option(help="JSON file to write the per-image outputs to.")
    ] = Path("models/grocery-val-outputs.json"),
    model: ModelOption = None,
    top_k: Annotated[
        int, typer.Option(min=1, help="Candidates stored per image, best first.")
    ] = 5,
    threads: OnnxThreadsOption = 0,
) -> None:
    """Store the recogniser's top classes for every image of a list as JSON.

    The simulator draws its vision observations from this file, so it needs
    neither the images nor ONNX Runtime.
    """
    from walkout.perception.recognition.image_list import read_image_list
    from walkout.perception.recognition.recogniser import (
        DEFAULT_MODEL_PATH,
        Recogniser,
    )
    from walkout.recording._files import replace_atomically
    from walkout.sim.vision import OUTPUTS_FORMAT

    model_path = model or DEFAULT_MODEL_PATH
    try:
        recogniser = Recogniser(model_path, threads=threads)
        items = read_image_list(image_list, root, num_fine=recogniser.classes.num_fine)
        images: list[dict[str, object]] = []
        correct = 0
        step = recogniser.batch_size
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            predictions = recogniser.predict([item.path for item in chunk], top_k)
            for item, top in zip(chunk, predictions, strict=True):
                label = recogniser.classes.fine_names[item.fine_id]
                correct += top[0].label == label
                images.append(
                    {
                        "path": _relative_or_absolute(item.path, root),
                        "label": label,
                        "top": [[c.label, round(c.p, 4)] for c in top],
                    }
                )
    except ImportError as error:
        raise _fail(
            f"inference needs the perception extra ({error}). Install it with: "
            "pip install 'walkout[perception]'"
        ) from error
    except RecognitionError as error:
        raise _fail(str(error)) from error

    document = {
        "format": OUTPUTS_FORMAT,
        "model": model_path.name,
        "image_list": image_list.name,
        "top_k": min(top_k, recogniser.classes.num_fine),
        "images": images,
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with replace_atomically(out) as sink:
            sink.write(_one_image_per_line(document).encode("utf-8"))
    except OSError as error:
        raise _fail(f"cannot write {out}: {error}") from error
    console.print(
        f"wrote {len(images)} images to {out}; top-1 {correct / len(images):.2%}",
        highlight=False,
    )


def _one_image_per_line(document: dict[str, object]) -> str:
    """Format ``document`` as JSON with each entry of ``images`` on its own line,
    so that the file stays small and its diffs readable."""
    images = document["images"]
    assert isinstance(images, list)
    header = {key: value for key, value in document.items() if key != "images"}
    lines = [json.dumps(header)[:-1] + ', "images": [']
    lines.extend(json.dumps(image) + "," for image in images)
    if images:
        lines[-1] = lines[-1][:-1]
    lines.append("]}")
    return "\n".join(lines) + "\n"


def _relative_or_absolute(path: Path, root: Path) -> str:
    """Return ``path`` relative to ``root``, or whole when it lies outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
