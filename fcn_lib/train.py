"""Staged training: FCN-32s, then FCN-16s from it, then FCN-8s from that.

The optimiser is the reference's: SGD with momentum, weight decay on weights only, and twice the
learning rate for biases. The loss reduction is explicit, because the reference's tiny learning rates
(1e-10) belong to a loss *summed* over every pixel of a batch; with a *mean* the same update needs a
learning rate ``pixels_per_batch`` times larger (:func:`equivalent_hyperparameters`).

Checkpoints carry everything needed to continue or to trust a result: weights, optimiser, schedule,
RNG state, step, stage, the profile and the code version. They are written atomically at every
validation and on Ctrl-C, by a thread while training goes on (``fcn_lib.background_save``); a
non-finite loss stops the run and leaves the last good checkpoint alone.
Every training batch is a function of its step (see ``fcn_lib.data``), so ``resume=True`` reaches the
same weights as a run that was never interrupted.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fcn_lib import acceleration, data, distributed, models, paths
from fcn_lib import catalog as catalogs
from fcn_lib.atomic import atomic_file, atomic_write_bytes
from fcn_lib.background_save import BackgroundWriter, host_copy
from fcn_lib.compose import PasteSettings
from fcn_lib.config import Profile, code_version, seed_everything
from fcn_lib.metrics import SplitScores
from fcn_lib.scenes import procedural_scenes, scenes_for

CHECKPOINT_FORMAT = 1
REDUCTIONS = ("sum", "mean")
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Stage:
    """One training stage: which network, on which data, grown from which earlier stage."""

    name: str
    arch: str
    key: str  # the profile's suffix for this stage's settings: iterations_<key>, lr_<key>, ...
    previous: str | None  # the stage whose weights it starts from; None: the profile's backbone
    notebook: str
    data: str = "white"  # "white": catalogue photos; "scenes": sneakers pasted onto scenes


STAGES = {
    "fcn32s_white": Stage("fcn32s_white", "fcn32s", "32s", None, "03_fcn32s"),
    "fcn16s_white": Stage("fcn16s_white", "fcn16s", "16s", "fcn32s_white", "04_fcn16s"),
    "fcn8s_white": Stage("fcn8s_white", "fcn8s", "8s", "fcn16s_white", "05_fcn8s"),
    "fcn8s_background": Stage("fcn8s_background", "fcn8s", "bg", "fcn8s_white", "06_backgrounds", "scenes"),
    # The control: the same network and budget on scenes, from the backbone instead of the white stages.
    "fcn8s_background_scratch": Stage("fcn8s_background_scratch", "fcn8s", "bg", None, "06_backgrounds",
                                      "scenes"),
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class CheckpointMismatch(ValueError):
    """A checkpoint is not the stage or network that was asked for, or is not a checkpoint at all."""


# ---------------------------------------------------------------------------------------------------
# Hyperparameters


def pixels_per_batch(batch_size: int, image_size: int) -> int:
    return batch_size * image_size * image_size


def equivalent_hyperparameters(lr: float, weight_decay: float, pixels: int, source: str, target: str
                               ) -> tuple[float, float]:
    """``(lr, weight_decay)`` for the ``target`` reduction that make exactly the update ``source`` makes.

    SGD steps by ``lr * (grad + weight_decay * w)``. The summed loss's gradient is ``pixels`` times the
    mean's, so going from sum to mean multiplies the learning rate by ``pixels`` and divides the weight
    decay by it (their product, the decay per step, is unchanged).
    """
    for name in (source, target):
        if name not in REDUCTIONS:
            raise ValueError(f"loss reduction must be one of {REDUCTIONS}, got {name!r}")
    if source == target:
        return lr, weight_decay
    factor = pixels if (source, target) == ("sum", "mean") else 1 / pixels
    return lr * factor, weight_decay / factor


@dataclass(frozen=True)
class Schedule:
    """A stage's optimisation settings, read from the profile."""

    iterations: int
    lr: float
    lr_drop: int  # step after which the learning rate is multiplied by drop_factor; 0 = never
    drop_factor: float
    momentum: float
    weight_decay: float
    reduction: str
    optimizer: str = "sgd"
    decay: str = "step"  # "step": the drop above; "cosine": from lr down to lr * drop_factor

    def learning_rate(self, step: int) -> float:
        if self.decay == "cosine":
            progress = min(step, self.iterations) / max(self.iterations, 1)
            remaining = (1 + math.cos(math.pi * progress)) / 2  # 1 at the start, 0 at the end
            return self.lr * (self.drop_factor + (1 - self.drop_factor) * remaining)
        if self.decay != "step":
            raise ValueError(f"learning-rate decay must be 'step' or 'cosine', got {self.decay!r}")
        return self.lr * (self.drop_factor if 0 < self.lr_drop <= step else 1.0)


def schedule_for(profile: Profile, stage: Stage) -> Schedule:
    return Schedule(
        iterations=getattr(profile, f"iterations_{stage.key}"), lr=getattr(profile, f"lr_{stage.key}"),
        lr_drop=getattr(profile, f"lr_drop_{stage.key}"), drop_factor=profile.lr_drop_factor,
        momentum=profile.momentum, weight_decay=profile.weight_decay, reduction=profile.loss_reduction,
        optimizer=profile.optimizer, decay=profile.lr_decay)


def parameter_groups(model: torch.nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Weights decay at ``lr``; biases learn at ``2 * lr`` without decay; frozen parameters are left out."""
    weights, biases = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (biases if name.endswith("bias") else weights).append(parameter)
    return [{"params": weights, "lr": lr, "lr_mult": 1.0, "weight_decay": weight_decay},
            {"params": biases, "lr": 2 * lr, "lr_mult": 2.0, "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    """The reference's SGD, or Adam (``momentum`` is then its first beta). Adam's steps do not depend on
    the gradient's scale, so for Adam the loss reduction does not change what a learning rate means.
    Build it after moving the network to its device: on a GPU the update is fused."""
    groups = parameter_groups(model, schedule.lr, schedule.weight_decay)
    # On a GPU one fused kernel updates all 134 M parameters, instead of a pass per operation.
    fused = all(p.is_cuda for group in groups for p in group["params"]) or None
    if schedule.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=schedule.lr, momentum=schedule.momentum, fused=fused)
    if schedule.optimizer == "adam":
        return torch.optim.Adam(groups, lr=schedule.lr, betas=(schedule.momentum, 0.999), fused=fused)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {schedule.optimizer!r}")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Continue an optimiser from a checkpoint that may come from another device: the saved groups
    also carry their update kernel (a GPU's fused one would fail on the CPU), so this device's is kept."""
    kernels = [{key: group[key] for key in ("fused", "foreach") if key in group}
               for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kernel in zip(optimizer.param_groups, kernels, strict=True):
        group.update(kernel)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_mult"]


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, reduction: str, pixels: int | None = None
                      ) -> torch.Tensor:
    """Per-pixel cross-entropy, summed or averaged over every pixel of the batch, in float32 whatever
    the logits' precision (a summed loss overflows float16).

    ``pixels`` is the whole batch's pixel count when this process holds only its share of the batch
    (under ``torchrun``): a mean then divides by all of them, so the shares' losses add up to the
    batch's.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"loss reduction must be one of {REDUCTIONS}, got {reduction!r}")
    total = F.cross_entropy(logits.float(), target, reduction="sum")
    return total if reduction == "sum" else total / (pixels or target.numel())


# ---------------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(path: Path, record: dict) -> Path:
    """Write a checkpoint atomically: a crash mid-write leaves the previous one intact."""
    with atomic_file(path) as file:
        torch.save(record, file)
    return path


def _write_checkpoint(path: Path, record: dict) -> None:
    """The checkpoint, then its training history as JSON beside it (for people and plots)."""
    save_checkpoint(path, record)
    atomic_write_bytes(path.parent / f"{record['stage']}.history.json",
                       json.dumps(record["history"], indent=1).encode())


def load_checkpoint(path: str | os.PathLike, stage: str | None = None, arch: str | None = None) -> dict:
    """Read a checkpoint safely (``weights_only=True``) and check it is what the caller expects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointMismatch(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})"
                                 ) from None
    if not isinstance(record, dict) or record.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(f"{path}: not an FCN Sneakers checkpoint (format {CHECKPOINT_FORMAT})")
    if stage is not None and record["stage"] != stage:
        raise CheckpointMismatch(f"{path}: expected stage {stage}, found {record['stage']}")
    if arch is not None and record["model"]["arch"] != arch:
        raise CheckpointMismatch(f"{path}: expected a {arch} network, found {record['model']['arch']} "
                                 f"({record['model']['layout']} layout, width {record['model']['width']})")
    return record


def model_from_checkpoint(record: dict, **overrides) -> models.FCN:
    """Rebuild the network a checkpoint describes and load its weights."""
    settings = {k: v for k, v in record["model"].items() if k != "arch"}
    model = models.build(record["model"]["arch"], **{**settings, **overrides})
    model.load_state_dict(record["state_dict"])
    return model


def checkpoint_path(profile: Profile, stage: str) -> Path:
    return paths.artifacts_dir(profile.profile) / f"{stage}.pt"


# ---------------------------------------------------------------------------------------------------
# Data and evaluation


def _catalog_split(profile: Profile):
    folder = catalogs.prepare_catalog(profile.sneakers, profile.catalog_count, profile.catalog_size,
                                      profile.seed, profile.mask_method)
    catalog = catalogs.load_catalog(folder)
    return catalog, *data.split_indices(len(catalog), profile.val_fraction, profile.seed)


def white_datasets(profile: Profile) -> tuple[data.WhiteBackgroundDataset, data.WhiteBackgroundDataset]:
    """Training (augmented, keyed by step) and validation (fixed) sets of catalogue photos on white."""
    catalog, train_items, val_items = _catalog_split(profile)
    return (data.WhiteBackgroundDataset(catalog, train_items, augment=True, size=profile.image_size,
                                        seed=profile.seed),
            data.WhiteBackgroundDataset(catalog, val_items, size=profile.image_size))


def scene_datasets(profile: Profile) -> tuple[data.CompositeDataset, data.CompositeDataset]:
    """Training sneakers on training scenes (a new composite every step), with ``procedural_scenes``
    random clutter scenes mixed in, and a fixed validation set of ``composites_val`` validation sneakers
    on validation photographs: nothing is shared between the two."""
    catalog, train_items, val_items = _catalog_split(profile)
    settings = PasteSettings(placement=profile.placement, max_sneakers=profile.max_sneakers)

    def composites(items, split: str, length: int, seed: int) -> data.CompositeDataset:
        scenes = data.load_scenes(scenes_for(profile.backgrounds, split, profile.val_fraction),
                                  profile.image_size)
        if split == "train" and profile.procedural_scenes:
            clutter = procedural_scenes(profile.procedural_scenes, 2 * profile.image_size, profile.seed)
            # Real photos keep half the draws however few they are (the list holds references).
            scenes = scenes * max(1, len(clutter) // len(scenes)) + clutter
        return data.CompositeDataset(data.catalog_cutouts(catalog, items), scenes, length,
                                     profile.image_size, seed, settings)

    return (composites(train_items, "train", len(train_items), profile.seed),
            composites(val_items, "val", profile.composites_val, profile.seed + 1))


def stage_datasets(profile: Profile, stage: Stage):
    return white_datasets(profile) if stage.data == "white" else scene_datasets(profile)


def mirror_average(logits: torch.Tensor, mirrored_logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities averaged over an image and its mirror image (whose scores are mirrored
    back). A mirrored sneaker is still a sneaker, so the network gets two looks at every photo, and
    their average errs less than either: on the cpu profile's validation composites the sneaker IoU
    rose by 0.01 to 0.02, for twice the inference work. Training is unchanged."""
    return (logits.float().softmax(1) + mirrored_logits.float().softmax(1).flip(-1)) / 2


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader, device: torch.device, amp: str = "fp32",
             world: distributed.World = distributed.ALONE, mirror: bool = False) -> dict[str, float]:
    """Mean per-pixel loss, the confusion-matrix scores and the boundary F-score over a whole loader
    or list of batches (under ``torchrun``: over every process's shard of it, summed), all computed
    on ``device``. With ``mirror`` the masks come from :func:`mirror_average` (the loss does not)."""
    was_training = model.training
    model.eval()
    scores = SplitScores()
    loss, pixels = torch.zeros((), dtype=torch.float64, device=device), 0
    for batch in loader:
        images, masks = data.to_model(*batch, device)
        with acceleration.autocast(device, amp):
            logits = model(images)
            decided = mirror_average(logits, model(images.flip(-1))) if mirror else logits
        loss += segmentation_loss(logits, masks, "sum")
        pixels += masks.numel()
        scores.add_batch(decided.argmax(1).bool(), masks.bool())
    model.train(was_training)
    if world.active:
        counts = torch.cat([scores.matrix.flatten(), torch.from_numpy(scores.outline),
                            torch.tensor([scores.images, pixels])]).to(device)
        world.sum(counts)
        world.sum(loss)
        counts = counts.cpu()
        scores.matrix, scores.outline = counts[:4].view(2, 2), counts[4:8].numpy()
        scores.images, pixels = int(counts[8]), int(counts[9])
    return {"loss": float(loss) / max(pixels, 1), **scores.result()}


def validation_examples(profile: Profile, count: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` validation photos spread over the validation split (the same ones in every notebook):
    normalised images N×3×S×S and their masks N×S×S (bool)."""
    _, validation = white_datasets(profile)
    chosen = np.linspace(0, len(validation) - 1, min(count, len(validation))).astype(int)
    pixels, masks = zip(*(validation[int(i)] for i in chosen), strict=True)
    return data.normalise(torch.stack(pixels)), torch.stack(masks).bool()


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, device: torch.device | None = None,
            mirror: bool = False) -> torch.Tensor:
    """Sneaker masks (bool, N×H×W, on the CPU) for a batch of normalised images; ``mirror``: decided
    by :func:`mirror_average`."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    images = images.to(device)
    logits = model(images)
    masks = (mirror_average(logits, model(images.flip(-1))) if mirror else logits).argmax(1).bool().cpu()
    model.train(was_training)
    return masks


def predict_dataset(model: torch.nn.Module, dataset, batch_size: int = 32, mirror: bool = False
                    ) -> np.ndarray:
    """Masks (bool, N×H×W) for every fixed item of a dataset, in order."""
    device = next(model.parameters()).device
    masks = [predict(model, data.to_model(*batch, device)[0], device, mirror)
             for batch in data.evaluation_loader(dataset, batch_size)]
    return torch.cat(masks).numpy()


def resolve_device(name: str = "auto") -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else
                        "cpu" if name == "auto" else name)


# ---------------------------------------------------------------------------------------------------
# The loop


def _rng_state() -> dict:
    """The generators training draws from (dropout): the CPU's and, when used, every GPU's."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []}


def _restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def stage_record(profile: Profile, stage_name: str) -> dict:
    """The checkpoint of a stage that has been trained, or an error that names the notebook (and the
    command) that trains it: what every later stage and notebook needs first."""
    stage, path = STAGES[stage_name], checkpoint_path(profile, stage_name)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run notebook {stage.notebook} (or `fcn-sneakers train --profile "
            f"{profile.profile} --stage {stage_name}`) first")
    return load_checkpoint(path, stage=stage_name, arch=stage.arch)


def initial_model(profile: Profile, stage: Stage, init: str | os.PathLike | None) -> models.FCN:
    """A fresh network on the profile's backbone, or the previous stage's network, grown if the stage
    adds a skip."""
    if stage.previous is None:
        return models.build(stage.arch, layout=profile.layout, width=profile.width,
                            backbone_weights=profile.backbone_weights, dropout=profile.dropout)
    previous = STAGES[stage.previous]
    record = (load_checkpoint(init, stage=previous.name, arch=previous.arch) if init
              else stage_record(profile, previous.name))
    parent = model_from_checkpoint(record, dropout=profile.dropout)
    if previous.arch == stage.arch:  # the same network carries on, on new data
        return parent
    grow = {"fcn16s": models.FCN16s.from_fcn32s, "fcn8s": models.FCN8s.from_fcn16s}[stage.arch]
    return grow(parent, dropout=profile.dropout)


@dataclass(frozen=True)
class StepSettings:
    """What a training step needs besides the network and the batch."""

    amp: str = "fp32"
    reduction: str = "mean"
    pixels: int | None = None  # the whole batch's pixels, when this process holds a share of it
    world_size: int = 1


def batch_loss(network: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor, settings: StepSettings
               ) -> torch.Tensor:
    with acceleration.autocast(images.device, settings.amp):
        logits = network(images)
    return segmentation_loss(logits, masks, settings.reduction, settings.pixels)


def training_step(network: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                  masks: torch.Tensor, lr: float, settings: StepSettings) -> torch.Tensor:
    """One optimisation step. Returns the loss still on the device: reading it would make the host
    wait for the GPU, so the loop only reads the sum of many, once per log line."""
    set_learning_rate(optimizer, lr)
    loss = batch_loss(network, images, masks, settings)
    optimizer.zero_grad(set_to_none=True)
    # DDP averages the processes' gradients; scaling by their number makes it the batch's sum.
    (loss * settings.world_size).backward()
    optimizer.step()
    return loss.detach()


def _distributed_seed(profile: Profile, world: distributed.World, step: int) -> None:
    """Under ``torchrun`` every process draws its own dropout masks, from (seed, rank, first step)."""
    if world.active:
        torch.manual_seed(int(np.random.SeedSequence([profile.seed, world.rank, step]).generate_state(1)[0]))


def train_stage(profile: Profile, stage_name: str, init: str | os.PathLike | None = None,
                resume: bool = False, progress: bool = True) -> Path:
    """Train one stage to ``artifacts/<profile>/<stage>.pt`` (history beside it) and return the path.

    Under ``torchrun`` each process trains on its share of every batch; only the first writes.
    """
    from tqdm import tqdm

    if stage_name not in STAGES:
        raise ValueError(f"unknown stage {stage_name!r}; choose one of {', '.join(STAGES)}")
    stage, schedule = STAGES[stage_name], schedule_for(profile, STAGES[stage_name])
    path, device = checkpoint_path(profile, stage_name), resolve_device(profile.device)
    world = distributed.join(device.type)
    device = distributed.device_of(world, device)
    acceleration.configure_backends(device)
    seed_everything(profile.seed)
    if resume and path.is_file():
        record = load_checkpoint(path, stage=stage.name, arch=stage.arch)
        model = model_from_checkpoint(record, dropout=profile.dropout)
        optimizer_state = record["optimizer"]
        _restore_rng(record["rng"])
        step, history, elapsed = record["step"], record["history"], record["elapsed_s"]
    else:
        model = initial_model(profile, stage, init)
        optimizer_state, step, history, elapsed = None, 0, {"train": [], "val": []}, 0.0
    if step >= schedule.iterations:
        return path
    _distributed_seed(profile, world, step)
    model = model.to(device, memory_format=acceleration.memory_format(profile.channels_last))
    optimizer = make_optimizer(model, schedule)
    if optimizer_state is not None:
        load_optimizer_state(optimizer, optimizer_state)
    train_set, val_set = stage_datasets(profile, stage)
    # The validation set is fixed: made once, kept in memory as bytes, and only predicted afterwards.
    val_batches = list(data.evaluation_loader(val_set, 2 * profile.batch_size, profile.num_workers,
                                              shard=(world.rank, world.size)))
    batches = data.training_loader(train_set, profile.batch_size, step, schedule.iterations,
                                   profile.num_workers, slots=world.share(profile.batch_size))
    batch_pixels = pixels_per_batch(profile.batch_size, profile.image_size)
    log_every = max(1, schedule.iterations // 200)
    # What trains: the network, shared across processes by DDP, maybe compiled. What is saved and
    # evaluated: the plain network underneath (`model`).
    trained = model
    if world.active:
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    amp = acceleration.resolve_amp(profile.amp, device)
    settings = StepSettings(amp, schedule.reduction, batch_pixels, world.size)

    def to_device(pixels, labels):
        return data.to_model(pixels, labels, device, profile.channels_last)

    if profile.compile:
        probe_batch = to_device(*next(iter(data.training_loader(
            train_set, profile.batch_size, step, step + 1, slots=world.share(profile.batch_size)))))
        trained, _ = acceleration.compile_or_eager(
            trained, lambda net: batch_loss(net, *probe_batch, settings).backward(),
            mode=profile.compile_mode)

    def diverged(where: str) -> TrainingDiverged:
        return TrainingDiverged(
            f"{stage.name}: {where} by step {step} (learning rate {schedule.learning_rate(step - 1):g}, "
            f"{schedule.reduction} reduction); the last good checkpoint is kept at {path}")

    writer = BackgroundWriter()

    def checkpoint(complete: bool) -> None:
        """Copy everything to host memory now and write it while training goes on (one host sync for
        the finiteness check, not one per tensor)."""
        if not bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()):
            raise diverged("the weights became non-finite")
        if world.is_main:
            writer.submit(_write_checkpoint, path, host_copy({
                "format": CHECKPOINT_FORMAT, "stage": stage.name, "model": model.describe(),
                "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "schedule": vars(schedule), "rng": resume_rng, "history": history,
                "elapsed_s": elapsed, "complete": complete, "profile": profile.to_dict(),
                "code_version": code_version(), "device": str(device), "amp": amp,
                "world_size": world.size}))

    model.train()
    resume_rng = _rng_state()  # what a resumed run restores to continue exactly after `step`
    window_loss, window_steps, started = torch.zeros((), device=device), 0, time.perf_counter()
    bar = tqdm(total=schedule.iterations, initial=step, desc=stage.name, unit="step",
               disable=not (progress and world.is_main))
    try:
        for images, masks in batches:
            images, masks = to_device(images, masks)
            window_loss += training_step(trained, optimizer, images, masks, schedule.learning_rate(step),
                                         settings)  # no host sync: the GPU runs ahead until the log line
            step += 1
            resume_rng = _rng_state()
            window_steps += 1
            bar.update(1)
            if step % log_every == 0 or step == schedule.iterations:
                # One host sync per log line, and only then the clock: until the GPU has caught up,
                # the time would be the host's queueing, not the training's.
                mean_loss = float(world.sum(window_loss)) / window_steps
                seconds = time.perf_counter() - started
                if not math.isfinite(mean_loss):
                    raise diverged(f"the loss became {mean_loss}")
                elapsed += seconds
                history["train"].append({"step": step, "loss": mean_loss,
                                         "lr": schedule.learning_rate(step - 1),
                                         "images_per_s": window_steps * profile.batch_size / seconds})
                bar.set_postfix(loss=f"{mean_loss:.4g}", img_s=f"{history['train'][-1]['images_per_s']:.0f}")
                window_loss, window_steps, started = torch.zeros((), device=device), 0, time.perf_counter()
            if step % profile.val_every == 0 or step == schedule.iterations:
                evaluated = time.perf_counter()
                scores = evaluate(model, val_batches, device, amp, world)
                history["val"].append({"step": step, **scores, "seconds": time.perf_counter() - evaluated})
                checkpoint(complete=step == schedule.iterations)
    except KeyboardInterrupt:
        checkpoint(complete=False)
        writer.wait()
        if world.is_main:
            print(f"\ninterrupted: saved step {step} to {path}; continue with resume=True (--resume)")
        raise
    finally:
        bar.close()
        writer.wait()  # the last checkpoint is on disk before anyone reads it
    world.barrier()
    return path
