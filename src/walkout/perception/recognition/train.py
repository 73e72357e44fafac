"""Fine-tuning EfficientNet-Lite on the Grocery Store Dataset and exporting to ONNX.

Training needs torch from the ``perception`` extra, but inference does not.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from walkout.perception.outputs import (
    OutputPathError,
    check_writable_folder,
    temporary_sibling,
)
from walkout.perception.recognition.augment import AugmentParams, augment
from walkout.perception.recognition.calibration import fit_temperature
from walkout.perception.recognition.errors import CalibrationError
from walkout.perception.recognition.image_list import LabelledImage, read_image_list
from walkout.perception.recognition.labels import ClassMap, LabelsFile, labels_path_for
from walkout.perception.recognition.network import (
    EfficientNetLite,
    build_pretrained,
    variant_named,
)
from walkout.perception.recognition.preprocess import (
    Preprocessing,
    load_rgb,
    mirror_averaged,
    normalise,
    resize_and_crop,
)
from walkout.perception.recognition.recogniser import model_filename

logger = logging.getLogger(__name__)


ONNX_OPSET = 17


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one fine-tuning run.

    With the defaults, an epoch took about 165 s on two otherwise idle AMD
    EPYC cores (torch 2.13 CPU build), so a run takes about 36 minutes.
    Training time grows in proportion to ``epochs`` and to the square of
    ``image_size``. ``lite0`` trains about 1.7 times faster than ``lite2`` at
    the same size.
    """

    backbone: str = "lite2"
    image_size: int = 256
    epochs: int = 12
    batch_size: int = 32
    backbone_lr: float = 6e-4
    head_lr: float = 3e-3
    weight_decay: float = 0.02
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.1
    # Decay of the exponential moving average of the weights and batch-norm
    # statistics, updated after every step. The average is what gets
    # validated and exported, and None exports the raw weights instead.
    ema_decay: float | None = 0.995
    # Stem plus this many leading blocks stay frozen in eval mode: they work
    # at the highest resolutions, so skipping their backward pass saves the
    # most time, and their ImageNet edge filters transfer unchanged.
    frozen_blocks: int = 4
    seed: int = 0
    threads: int = 2
    augment: AugmentParams = field(default_factory=AugmentParams)
    # Candidate inference preprocessings. The one with the best validation
    # accuracy goes into the labels file.
    eval_sizes: tuple[int, ...] = (256, 288, 320)
    eval_crop_fractions: tuple[float, ...] = (1.0, 0.875)
    eval_mirror_average: tuple[bool, ...] = (False, True)
    # Limits for smoke tests: use only the first N images or steps.
    max_images: int | None = None
    max_steps: int | None = None


@dataclass(frozen=True)
class EpochReport:
    """Progress after one epoch: mean training loss and validation accuracy."""

    epoch: int
    epochs: int
    train_loss: float
    val_top1_fine: float
    val_top1_coarse: float
    seconds: float


@dataclass(frozen=True)
class PreprocessingScore:
    """Validation accuracy of the trained model under one inference preprocessing."""

    preprocessing: Preprocessing
    val_top1_fine: float
    val_top1_coarse: float


@dataclass(frozen=True)
class TrainResult:
    """Paths of the exported model and labels file, with validation accuracy.

    ``preprocessing_scores`` lists every candidate preprocessing in the order
    tried. ``preprocessing`` is the first with the best fine, then coarse,
    accuracy.
    """

    model_path: Path
    labels_path: Path
    preprocessing: Preprocessing
    val_top1_fine: float
    val_top1_coarse: float
    train_seconds: float
    epochs: list[EpochReport]
    preprocessing_scores: list[PreprocessingScore]
    temperature: float


@dataclass(frozen=True)
class DatasetPaths:
    """The files of the Grocery Store Dataset that training reads."""

    root: Path
    train_list: Path
    val_list: Path
    classes_csv: Path

    @classmethod
    def locate(cls, data_dir: Path) -> DatasetPaths:
        """Find ``train.txt``, ``val.txt`` and ``classes.csv`` in ``data_dir``.

        ``data_dir`` is either the dataset's ``dataset/`` folder or the folder
        that contains it.
        """
        root = data_dir / "dataset" if (data_dir / "dataset").is_dir() else data_dir
        paths = cls(root, root / "train.txt", root / "val.txt", root / "classes.csv")
        for path in (paths.train_list, paths.val_list, paths.classes_csv):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found. Pass the Grocery Store Dataset folder "
                    "that contains train.txt, val.txt and classes.csv"
                )
        return paths


def _load_images(items: Sequence[LabelledImage]) -> list[Image.Image]:
    return [load_rgb(item.path) for item in items]


def _batch_tensor(images: Sequence[Image.Image], spec: Preprocessing) -> torch.Tensor:
    arrays = [normalise(image, spec) for image in images]
    return torch.from_numpy(np.stack(arrays))


def predict_logits(
    model: nn.Module,
    images: Sequence[Image.Image],
    spec: Preprocessing,
    batch_size: int = 64,
) -> npt.NDArray[np.float32]:
    """Run ``model`` in eval mode on decoded images preprocessed by ``spec``."""
    model.eval()
    outputs: list[npt.NDArray[np.float32]] = []

    def run(batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        inputs = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
        logits: npt.NDArray[np.float32] = model(inputs).numpy()
        return logits

    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            chunk = [
                resize_and_crop(i, spec) for i in images[start : start + batch_size]
            ]
            batch = np.stack([normalise(image, spec) for image in chunk])
            outputs.append(mirror_averaged(run, batch, spec))
    return np.concatenate(outputs)


def top1_accuracy(
    logits: npt.NDArray[np.float32],
    items: Sequence[LabelledImage],
    classes: ClassMap,
) -> tuple[float, float]:
    """Return fine and coarse top-1 accuracy (coarse from the fine prediction)."""
    predicted = logits.argmax(axis=1)
    fine = np.array([item.fine_id for item in items])
    coarse = np.array([item.coarse_id for item in items])
    predicted_coarse = np.array([classes.coarse_of_fine[int(p)] for p in predicted])
    return float((predicted == fine).mean()), float((predicted_coarse == coarse).mean())


def _freeze_leading_layers(model: EfficientNetLite, frozen_blocks: int) -> None:
    frozen: list[nn.Module] = [model._conv_stem, model._bn0]
    frozen += list(model._blocks[:frozen_blocks])
    for module in frozen:
        module.eval()
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def _set_train_mode(model: EfficientNetLite, frozen_blocks: int) -> None:
    model.train()
    _freeze_leading_layers(model, frozen_blocks)


def _optimizer(model: EfficientNetLite, config: TrainConfig) -> torch.optim.AdamW:
    head = list(model._fc.parameters())
    head_ids = {id(p) for p in head}
    backbone = [
        p for p in model.parameters() if p.requires_grad and id(p) not in head_ids
    ]
    return torch.optim.AdamW(
        [
            {"params": backbone, "lr": config.backbone_lr},
            {"params": head, "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )


def _lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def train(
    data_dir: Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_stage: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Fine-tune on the train split, pick preprocessing and temperature on val, export.

    Writes ``grocery-efficientnet-BACKBONE.onnx`` and its labels JSON into
    ``out_dir`` and returns where they went with the validation accuracy.
    ``out_dir`` is created and checked for writing before any training, and
    :class:`walkout.perception.outputs.OutputPathError` is raised if it
    cannot be written. ``on_stage`` is called with (stage name, steps done,
    total steps) while the preprocessing candidates are scored and the
    model is exported.
    """
    config = config or TrainConfig()
    prepare_output_folder(out_dir)
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    # Data: decode every image once, because they are small (348 px) and fit in RAM.
    paths = DatasetPaths.locate(data_dir)
    classes = ClassMap.from_classes_csv(paths.classes_csv)
    train_items = read_image_list(
        paths.train_list, paths.root, num_fine=classes.num_fine
    )
    val_items = read_image_list(paths.val_list, paths.root, num_fine=classes.num_fine)
    if config.max_images is not None:
        train_items = train_items[: config.max_images]
        val_items = val_items[: config.max_images]
    train_images = _load_images(train_items)
    val_images = _load_images(val_items)
    train_labels = torch.tensor([item.fine_id for item in train_items])
    logger.info(
        "loaded %d training and %d validation images in %.1f s",
        len(train_images),
        len(val_images),
        time.perf_counter() - started,
    )

    # Model and optimiser.
    # channels_last lets oneDNN run the convolutions about twice as fast on CPU.
    model = build_pretrained(variant_named(config.backbone), classes.num_fine)
    # torch's stubs omit Module.to's memory_format keyword, which it accepts.
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    _freeze_leading_layers(model, config.frozen_blocks)
    optimizer = _optimizer(model, config)
    averaged: AveragedModel | None = None
    if config.ema_decay is not None:
        averaged = AveragedModel(
            model,
            multi_avg_fn=get_ema_multi_avg_fn(  # type: ignore[no-untyped-call]
                config.ema_decay
            ),
            use_buffers=True,
        )
    # The network that gets validated and exported.
    final = model if averaged is None else averaged.module
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    warmup_steps = max(1, round(config.warmup_epochs * steps_per_epoch))
    train_spec = Preprocessing(size=config.image_size)

    # Training loop.
    reports: list[EpochReport] = []
    step = 0
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        _set_train_mode(model, config.frozen_blocks)
        order = rng.permutation(len(train_images))
        losses: list[float] = []
        for start in range(0, len(order), config.batch_size):
            if step >= total_steps:
                break
            indices = order[start : start + config.batch_size]
            crops = [
                augment(train_images[i], config.image_size, config.augment, rng)
                for i in indices
            ]
            inputs = _batch_tensor(crops, train_spec)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
            targets = train_labels[torch.from_numpy(indices)]
            factor = _lr_factor(step, total_steps, warmup_steps)
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * factor
            loss = criterion(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            losses.append(loss.item())
            step += 1

        logits = predict_logits(
            final, val_images, Preprocessing(size=config.image_size)
        )
        fine_acc, coarse_acc = top1_accuracy(logits, val_items, classes)
        report = EpochReport(
            epoch=epoch,
            epochs=config.epochs,
            train_loss=float(np.mean(losses)) if losses else float("nan"),
            val_top1_fine=fine_acc,
            val_top1_coarse=coarse_acc,
            seconds=time.perf_counter() - epoch_started,
        )
        reports.append(report)
        logger.info(
            "epoch %d/%d loss %.4f val fine %.4f coarse %.4f (%.0f s)",
            epoch,
            config.epochs,
            report.train_loss,
            fine_acc,
            coarse_acc,
            report.seconds,
        )
        if on_epoch is not None:
            on_epoch(report)
        if step >= total_steps:
            break

    # Inference preprocessing: the candidate with the best validation accuracy.
    scored = _score_preprocessings(
        final, val_images, val_items, classes, config, on_stage
    )
    if not scored:
        raise ValueError(
            "eval_sizes, eval_crop_fractions and eval_mirror_average "
            "must each list at least one value"
        )
    best, best_logits = max(
        scored, key=lambda pair: (pair[0].val_top1_fine, pair[0].val_top1_coarse)
    )
    spec = best.preprocessing
    try:
        temperature = fit_temperature(best_logits, [item.fine_id for item in val_items])
        logger.info("softmax temperature %.4f fitted on validation", temperature)
    except CalibrationError as error:
        temperature = 1.0
        logger.warning("kept softmax temperature 1.0: %s", error)

    # Export.
    if on_stage is not None:
        on_stage("export", 0, 1)
    model_path = out_dir / model_filename(config.backbone)
    labels_path = labels_path_for(model_path)
    write_model_and_labels(
        final,
        model_path,
        LabelsFile(classes=classes, preprocessing=spec, temperature=temperature),
        spec.size,
    )
    if on_stage is not None:
        on_stage("export", 1, 1)
    train_seconds = time.perf_counter() - started
    logger.info("wrote %s and %s after %.0f s", model_path, labels_path, train_seconds)
    return TrainResult(
        model_path=model_path,
        labels_path=labels_path,
        preprocessing=spec,
        val_top1_fine=best.val_top1_fine,
        val_top1_coarse=best.val_top1_coarse,
        train_seconds=train_seconds,
        epochs=reports,
        preprocessing_scores=[score for score, _ in scored],
        temperature=temperature,
    )


def prepare_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` and raise ``OutputPathError`` unless it is writable."""
    fix = "Choose a writable folder with --out."
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputPathError(
            f"{out_dir}: cannot create the output folder "
            f"({error.strerror or error}). {fix}"
        ) from error
    check_writable_folder(out_dir, fix=fix)


def write_model_and_labels(
    model: nn.Module, model_path: Path, labels: LabelsFile, image_size: int
) -> None:
    """Export the model to ONNX and write its labels JSON beside it.

    Both go to temporary files first. Then the old labels file is deleted,
    the model renamed into place and the labels renamed last. An
    interruption between the renames leaves a model without labels, which
    the recogniser rejects as missing, never a new model beside old labels.
    """
    labels_path = labels_path_for(model_path)
    temporary_labels = temporary_sibling(labels_path)
    try:
        export_onnx(model, model_path, image_size, keep_old_until_renamed=True)
        labels.write(temporary_labels)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(labels_path)
        os.replace(_pending_model(model_path), model_path)
        os.replace(temporary_labels, labels_path)
    finally:
        for leftover in (temporary_labels, _pending_model(model_path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _pending_model(model_path: Path) -> Path:
    """Return the temporary name that ``export_onnx`` writes a model to first."""
    return model_path.with_name(f".{model_path.name}.pending")


def _score_preprocessings(
    model: nn.Module,
    images: Sequence[Image.Image],
    items: Sequence[LabelledImage],
    classes: ClassMap,
    config: TrainConfig,
    on_stage: Callable[[str, int, int], None] | None = None,
) -> list[tuple[PreprocessingScore, npt.NDArray[np.float32]]]:
    """Score every candidate preprocessing, returning each with its logits."""
    scored: list[tuple[PreprocessingScore, npt.NDArray[np.float32]]] = []
    candidates = list(
        itertools.product(
            config.eval_sizes, config.eval_crop_fractions, config.eval_mirror_average
        )
    )
    if on_stage is not None:
        on_stage("score preprocessing", 0, len(candidates))
    for size, crop_fraction, mirror_average in candidates:
        spec = Preprocessing(
            size=size, crop_fraction=crop_fraction, mirror_average=mirror_average
        )
        logits = predict_logits(model, images, spec)
        fine_acc, coarse_acc = top1_accuracy(logits, items, classes)
        logger.info(
            "val at %d px, crop %.3f%s: fine %.4f coarse %.4f",
            size,
            crop_fraction,
            ", mirror average" if mirror_average else "",
            fine_acc,
            coarse_acc,
        )
        scored.append((PreprocessingScore(spec, fine_acc, coarse_acc), logits))
        if on_stage is not None:
            on_stage("score preprocessing", len(scored), len(candidates))
    return scored


def export_onnx(
    model: nn.Module,
    path: Path,
    image_size: int,
    *,
    keep_old_until_renamed: bool = False,
) -> None:
    """Export ``model`` to ONNX: input ``images``, output ``logits``, dynamic batch.

    The file is written under a temporary name beside ``path`` and renamed to
    ``path`` once complete, so a failed export leaves any old model as it
    was. With ``keep_old_until_renamed`` the rename is left to the caller,
    and the file stays at the temporary name from ``_pending_model``.
    """
    pending = _pending_model(path)
    try:
        _export_onnx_to(model, pending, image_size)
        if not keep_old_until_renamed:
            os.replace(pending, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pending)
        raise


def _export_onnx_to(model: nn.Module, path: Path, image_size: int) -> None:
    model.eval()
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    example = torch.zeros(1, 3, image_size, image_size)
    # NOTE: this uses the TorchScript exporter, deprecated since torch 2.9,
    # because the torch.export-based one needs onnxscript, which the
    # perception extra does not install.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
        )
