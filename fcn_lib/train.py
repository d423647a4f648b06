"""The training loop of one stage: set up, step, validate, checkpoint.

:func:`train_stage` reads as the loop it runs: :func:`prepare` builds or resumes the network and its
optimiser, then every step trains on one batch, every log line records the loss and speed, and every
``val_every`` steps the network is validated and checkpointed. Checkpoints are written at every
validation and on Ctrl-C, by a thread while training goes on (``fcn_lib.background_save``); a
non-finite loss stops the run and leaves the last good checkpoint alone.

Every training batch is a function of its step (see ``fcn_lib.data``), so ``resume=True`` reaches the
same weights as a run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fcn_lib import acceleration, checkpoints, data, distributed, inference, locks, models
from fcn_lib.background_save import BackgroundWriter, host_copy
from fcn_lib.config import Profile, code_version, seed_everything
from fcn_lib.optim import (
    Schedule,
    load_optimizer_state,
    make_optimizer,
    pixels_per_batch,
    segmentation_loss,
    set_learning_rate,
)
from fcn_lib.random_convolution import random_convolution, step_generator
from fcn_lib.stages import STAGES, Stage, schedule_for, stage_datasets, stage_named


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


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


def initial_model(profile: Profile, stage: Stage, init: str | os.PathLike | None) -> models.FCN:
    """A fresh network on the profile's backbone, or the previous stage's network (from ``init``, else
    its artifact), grown if the stage adds a skip."""
    if stage.previous is None:
        return models.build(stage.arch, layout=profile.layout, width=profile.width,
                            backbone_weights=profile.backbone_weights, dropout=profile.dropout,
                            normalisation=profile.normalisation)
    previous = STAGES[stage.previous]
    record = (checkpoints.load_checkpoint(init, stage=previous.name, arch=previous.arch) if init
              else checkpoints.stage_record(profile, previous.name))
    parent = checkpoints.model_from_checkpoint(record, dropout=profile.dropout)
    if previous.arch == stage.arch:  # the same network carries on, on new data
        return parent
    grow = {"fcn16s": models.FCN16s.from_fcn32s, "fcn8s": models.FCN8s.from_fcn16s}[stage.arch]
    return grow(parent, dropout=profile.dropout)


def _rng_state() -> dict:
    """The generators training draws from (dropout): the CPU's and, when used, every GPU's."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []}


def _restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class StageRun:
    """One stage's training in progress: what the loop reads, and what it changes as it goes."""

    profile: Profile
    stage: Stage
    schedule: Schedule
    path: Path
    device: torch.device
    world: distributed.World
    model: models.FCN  # the plain network: what is saved and validated
    step: int = 0
    history: dict = field(default_factory=lambda: {"train": [], "val": []})
    elapsed: float = 0.0
    optimizer: torch.optim.Optimizer | None = None
    rng: dict = field(default_factory=_rng_state)  # what a resumed run restores to continue after `step`

    @property
    def done(self) -> bool:
        return self.step >= self.schedule.iterations


def prepare(profile: Profile, stage_name: str, init: str | os.PathLike | None, resume: bool) -> StageRun:
    """The network and its optimiser on their device: a new run, or an interrupted one where it stopped."""
    stage = stage_named(stage_name)
    device = acceleration.resolve_device(profile.device)
    world = distributed.join(device.type)
    device = distributed.device_of(world, device)
    acceleration.configure_backends(device)
    seed_everything(profile.seed)
    path, optimizer_state = checkpoints.checkpoint_path(profile, stage_name), None
    run = StageRun(profile, stage, schedule_for(profile, stage), path, device, world, model=None)
    if resume and path.is_file():
        record = checkpoints.load_checkpoint(path, stage=stage.name, arch=stage.arch)
        run.model = checkpoints.model_from_checkpoint(record, dropout=profile.dropout)
        optimizer_state = record["optimizer"]
        _restore_rng(record["rng"])
        run.step, run.history, run.elapsed = record["step"], record["history"], record["elapsed_s"]
    else:
        run.model = initial_model(profile, stage, init)
    if run.done:
        return run
    if world.active:  # every process draws its own dropout masks, from (seed, rank, first step)
        own = np.random.SeedSequence([profile.seed, world.rank, run.step]).generate_state(1)[0]
        torch.manual_seed(int(own))
    run.model = run.model.to(device, memory_format=acceleration.memory_format(profile.channels_last))
    run.optimizer = make_optimizer(run.model, run.schedule)
    if optimizer_state is not None:
        load_optimizer_state(run.optimizer, optimizer_state)
    return run


def _trained_network(run: StageRun, train_set, settings: StepSettings) -> torch.nn.Module:
    """What trains: the network, shared across processes by DDP, maybe compiled (probed on a real
    batch, eager when compiling fails). What is saved and validated stays ``run.model``."""
    network = run.model
    if run.world.active:
        network = torch.nn.parallel.DistributedDataParallel(
            distributed.synchronise_batch_norm(run.model, run.device),
            device_ids=[run.device.index] if run.device.type == "cuda" else None)
    if run.profile.compile:
        slots = run.world.share(run.profile.batch_size)
        probe = data.to_model(*next(iter(data.training_loader(
            train_set, run.profile.batch_size, run.step, run.step + 1, slots=slots))),
            run.device, run.profile.channels_last)
        network, _ = acceleration.compile_or_eager(
            network, lambda net: batch_loss(net, *probe, settings).backward(), mode=run.profile.compile_mode)
    return network


def _diverged(run: StageRun, where: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"{run.stage.name}: {where} by step {run.step} (learning rate "
        f"{run.schedule.learning_rate(run.step - 1):g}, {run.schedule.reduction} reduction); the last good "
        f"checkpoint is kept at {run.path}")


def checkpoint(run: StageRun, writer: BackgroundWriter, amp: str) -> None:
    """Copy everything to host memory now and let ``writer`` put it on disk while training goes on
    (one host sync for the finiteness check, not one per tensor). Only the first process writes."""
    if not bool(torch.stack([torch.isfinite(p).all() for p in run.model.parameters()]).all()):
        raise _diverged(run, "the weights became non-finite")
    if run.world.is_main:
        writer.submit(checkpoints.save_with_history, run.path, host_copy({
            "format": checkpoints.CHECKPOINT_FORMAT, "stage": run.stage.name, "model": run.model.describe(),
            "state_dict": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "step": run.step,
            "schedule": vars(run.schedule), "rng": run.rng, "history": run.history,
            "elapsed_s": run.elapsed, "complete": run.done, "profile": run.profile.to_dict(),
            "code_version": code_version(), "device": str(run.device), "amp": amp,
            "world_size": run.world.size}))


class _Window:
    """The steps since the last log line: their summed loss (on the device) and their wall time, less
    the time spent validating and checkpointing in between (``paused``), which is not training."""

    def __init__(self, device: torch.device):
        self.loss, self.steps, self.started = torch.zeros((), device=device), 0, time.perf_counter()
        self.paused = 0.0


def _log(run: StageRun, window: _Window, bar) -> None:
    """One history line. One host sync, and only then the clock: until the GPU has caught up, the time
    would be the host's queueing, not the training's."""
    mean_loss = float(run.world.sum(window.loss)) / window.steps
    seconds = time.perf_counter() - window.started - window.paused
    if not math.isfinite(mean_loss):
        raise _diverged(run, f"the loss became {mean_loss}")
    run.elapsed += seconds
    speed = window.steps * run.profile.batch_size / seconds
    run.history["train"].append({"step": run.step, "loss": mean_loss,
                                 "lr": run.schedule.learning_rate(run.step - 1), "images_per_s": speed})
    bar.set_postfix(loss=f"{mean_loss:.4g}", img_s=f"{speed:.0f}")


def train_stage(profile: Profile, stage_name: str, init: str | os.PathLike | None = None,
                resume: bool = False, progress: bool = True) -> Path:
    """Train one stage to ``artifacts/<profile>/<stage>.pt`` (history beside it) and return the path.

    Under ``torchrun`` each process trains on its share of every batch; only the first writes, and
    it holds the stage's lock (``fcn_lib.locks``) so that a second run of the same stage is refused.
    """
    stage_named(stage_name)  # an unknown name is refused before anything is locked or written
    target = checkpoints.checkpoint_path(profile, stage_name)
    with locks.exclusive(target) if distributed.rank() == 0 else contextlib.nullcontext():
        return _train_locked(profile, stage_name, init, resume, progress)


def _train_locked(profile: Profile, stage_name: str, init: str | os.PathLike | None, resume: bool,
                  progress: bool) -> Path:
    from tqdm import tqdm

    run = prepare(profile, stage_name, init, resume)
    if run.done:
        return run.path
    train_set, val_set = stage_datasets(profile, run.stage)
    world, device = run.world, run.device
    # The validation set is fixed: made once, kept in memory as bytes, and only predicted afterwards.
    val_batches = list(data.evaluation_loader(val_set, 2 * profile.batch_size, profile.num_workers,
                                              shard=(world.rank, world.size)))
    batches = data.training_loader(train_set, profile.batch_size, run.step, run.schedule.iterations,
                                   profile.num_workers, slots=world.share(profile.batch_size))
    amp = acceleration.resolve_amp(profile.amp, device)
    pixels = pixels_per_batch(profile.batch_size, profile.image_size)
    settings = StepSettings(amp, run.schedule.reduction, pixels, world.size)
    network = _trained_network(run, train_set, settings)
    log_every = max(1, run.schedule.iterations // 200)
    # Only the scene stages: on white the catalogue is what is being learnt, in scenes it must carry over.
    filtering = profile.random_convolution > 0 and run.stage.data == "scenes"
    writer = BackgroundWriter()
    run.model.train()
    run.rng, window = _rng_state(), _Window(device)
    # Batch normalisation's running statistics move in a step's forward pass, before its update: a
    # step cut short restores them, so the checkpoint holds the state after the last whole step.
    before_step = None
    bar = tqdm(total=run.schedule.iterations, initial=run.step, desc=run.stage.name, unit="step",
               disable=not (progress and world.is_main))
    try:
        for pixels, labels in batches:
            images, masks = data.to_model(pixels, labels, device, profile.channels_last)
            if filtering:
                images = random_convolution(images, profile.random_convolution,
                                            step_generator(profile.seed, run.step, world.rank))
            before_step = run.step, acceleration.saved_buffers(run.model)
            # No host sync here: on a GPU the loop runs ahead until the log line reads the loss.
            window.loss += training_step(network, run.optimizer, images, masks,
                                         run.schedule.learning_rate(run.step), settings)
            run.step, window.steps, run.rng = run.step + 1, window.steps + 1, _rng_state()
            bar.update(1)
            if run.step % log_every == 0 or run.done:
                _log(run, window, bar)
                window = _Window(device)
            if run.step % profile.val_every == 0 or run.done:
                started = time.perf_counter()
                scores = inference.evaluate(run.model, val_batches, amp, world)
                run.history["val"].append({"step": run.step, **scores,
                                           "seconds": time.perf_counter() - started})
                checkpoint(run, writer, amp)
                window.paused += time.perf_counter() - started
    except KeyboardInterrupt:
        if before_step is not None and before_step[0] == run.step:  # stopped inside a step
            acceleration.restore_buffers(before_step[1])
        checkpoint(run, writer, amp)
        writer.wait()
        # The message travels with the interrupt: the command line prints it as its one line, a
        # notebook shows it under the cell.
        raise KeyboardInterrupt(f"saved step {run.step} to {run.path}; continue with resume=True "
                                "(--resume)") from None
    finally:
        bar.close()
        writer.wait()  # the last checkpoint is on disk before anyone reads it
    world.barrier()
    return run.path
