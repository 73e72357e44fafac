"""``walkout vision``: train and evaluate the grocery product recogniser."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from walkout.perception.outputs import OutputPathError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from walkout.perception.recognition.image_list import LabelledImage
    from walkout.perception.recognition.recogniser import Recogniser
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


ProgressCallback = Callable[[int, int], None]
BatchResult = TypeVar("BatchResult")


@contextmanager
def _progress(label: str) -> Iterator[ProgressCallback]:
    """Yield a (done, total) callback that draws a progress bar on stderr.

    The bar appears with the first call, so errors found before any work
    print without an empty bar.
    """
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        if bar.live.is_started:
            bar.stop()


@contextmanager
def _inference_errors(
    describe: Callable[[RecognitionError], str] = str,
) -> Iterator[None]:
    """Report a missing perception extra or a ``RecognitionError`` and exit 2.

    ``describe`` formats the message of the recognition error.
    """
    try:
        yield
    except ImportError as error:
        raise _fail(
            f"inference needs the perception extra ({error}). Install it with: "
            "pip install 'walkout[perception]'"
        ) from error
    except RecognitionError as error:
        raise _fail(describe(error)) from error


def _load_recogniser_and_list(
    model_path: Path, threads: int, image_list: Path, root: Path
) -> tuple[Recogniser, list[LabelledImage]]:
    """Load the recogniser and read the image list against its fine classes."""
    from walkout.perception.recognition.image_list import read_image_list
    from walkout.perception.recognition.recogniser import Recogniser

    recogniser = Recogniser(model_path, threads=threads)
    items = read_image_list(image_list, root, num_fine=recogniser.classes.num_fine)
    return recogniser, items


def _infer_in_batches(
    label: str,
    recogniser: Recogniser,
    image_list: Path,
    items: list[LabelledImage],
    infer: Callable[[list[Path]], BatchResult],
) -> list[BatchResult]:
    """Run ``infer`` on the images of ``items`` one batch at a time.

    A progress bar named ``label`` counts the images, and an image that fails
    to load is reported with its line in ``image_list``.
    """
    from walkout.perception.recognition.errors import ImageLoadError
    from walkout.perception.recognition.image_list import locate_load_error

    results: list[BatchResult] = []
    step = recogniser.batch_size
    with _progress(label) as advance:
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            try:
                results.append(infer([item.path for item in chunk]))
            except ImageLoadError as error:
                raise locate_load_error(error, image_list, chunk) from error
            advance(min(start + step, len(items)), len(items))
    return results


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
    from walkout.perception.recognition.train import prepare_output_folder

    try:
        variant_named(backbone)
    except ValueError as error:
        raise _fail(f"--backbone: {error}") from error
    try:
        prepare_output_folder(out)
    except OutputPathError as error:
        raise _fail(f"--out {error}") from error
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

    # Each stage replaces the bar of the stage before it.
    stage_bar = ExitStack()
    stage_callbacks: dict[str, ProgressCallback] = {}

    def show_stage(stage: str, done: int, total: int) -> None:
        if stage not in stage_callbacks:
            stage_bar.close()
            stage_callbacks.clear()
            stage_callbacks[stage] = stage_bar.enter_context(_progress(stage))
        stage_callbacks[stage](done, total)

    try:
        with stage_bar:
            result = train(data, out, config, on_epoch=show_epoch, on_stage=show_stage)
    except (RecognitionError, FileNotFoundError, OutputPathError) as error:
        raise _fail(str(error)) from error
    except OSError as error:
        raise _fail(
            f"cannot write the model to {out}: {error.strerror or error}. "
            "Any earlier model there was left as it was"
        ) from error
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
        metavar="list", help="Image list with 'path, fine_id, coarse_id' lines."
    ),
]
ImageRootArgument = Annotated[
    Path,
    typer.Argument(
        metavar="root", help="Folder that the list's image paths are relative to."
    ),
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

    with _inference_errors():
        recogniser = Recogniser(model or DEFAULT_MODEL_PATH, threads=threads)
        with _progress("eval") as advance:
            result = evaluate(image_list, root, recogniser, on_progress=advance)

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
    from walkout.perception.recognition.labels import labels_path_for, set_temperature
    from walkout.perception.recognition.recogniser import DEFAULT_MODEL_PATH, softmax

    def describe(error: RecognitionError) -> str:
        message = str(error)
        if not message.startswith(str(image_list)):
            message = f"{image_list}: {message}"
        return f"{message}. The labels file was not changed"

    model_path = model or DEFAULT_MODEL_PATH
    with _inference_errors(describe):
        recogniser, items = _load_recogniser_and_list(
            model_path, threads, image_list, root
        )
        labels = [item.fine_id for item in items]
        logits = _logits_with_progress(recogniser, image_list, items)
        temperature = fit_temperature(logits, labels)

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
    from walkout.perception.recognition.image_list import check_coarse_ids
    from walkout.perception.recognition.recogniser import DEFAULT_MODEL_PATH
    from walkout.recording._files import replace_atomically
    from walkout.sim.vision import OUTPUTS_FORMAT

    model_path = model or DEFAULT_MODEL_PATH
    with _inference_errors():
        recogniser, items = _load_recogniser_and_list(
            model_path, threads, image_list, root
        )
        check_coarse_ids(image_list, items, recogniser.classes)
        batches = _infer_in_batches(
            "outputs",
            recogniser,
            image_list,
            items,
            lambda paths: recogniser.predict(paths, top_k),
        )

    predictions = [top for batch in batches for top in batch]
    images: list[dict[str, object]] = []
    correct = 0
    for item, top in zip(items, predictions, strict=True):
        label = recogniser.classes.fine_names[item.fine_id]
        correct += top[0].label == label
        images.append(
            {
                "path": _relative_or_absolute(item.path, root),
                "label": label,
                "top": [[c.label, round(c.p, 4)] for c in top],
            }
        )

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


def _logits_with_progress(
    recogniser: Recogniser, image_list: Path, items: list[LabelledImage]
) -> npt.NDArray[np.float32]:
    """Return the recogniser's logits for ``items`` while drawing a progress bar."""
    import numpy as np

    chunks = _infer_in_batches(
        "calibrate", recogniser, image_list, items, recogniser.logits
    )
    if not chunks:
        return np.zeros((0, recogniser.classes.num_fine), np.float32)
    return np.concatenate(chunks)


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
