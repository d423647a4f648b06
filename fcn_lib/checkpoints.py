"""Checkpoints: what a trained stage leaves behind, and the only way back from it to a network.

A checkpoint carries everything needed to continue or to trust a result: weights, optimiser, schedule,
RNG state, step, stage, the profile and the code version (see ``fcn_lib.train``). It is written
atomically, so a crash mid-write leaves the previous one intact, and read with ``weights_only=True``,
so a file cannot run code when it is loaded. Its training history is also written beside it as JSON,
for people and plots.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from fcn_lib import models, paths
from fcn_lib.atomic import atomic_file, atomic_write_bytes
from fcn_lib.config import Profile
from fcn_lib.stages import stage_named

CHECKPOINT_FORMAT = 1


class CheckpointMismatch(ValueError):
    """A checkpoint is not the stage or network that was asked for, or is not a checkpoint at all."""


def checkpoint_path(profile: Profile, stage: str) -> Path:
    return paths.artifacts_dir(profile.profile) / f"{stage}.pt"


def save_checkpoint(path: Path, record: dict) -> Path:
    """Write a checkpoint atomically, streamed into place (no copy of it in memory)."""
    with atomic_file(path) as file:
        torch.save(record, file)
    return path


def save_with_history(path: Path, record: dict) -> None:
    """The checkpoint, then its training history as ``<stage>.history.json`` beside it."""
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


def stage_record(profile: Profile, stage_name: str) -> dict:
    """The checkpoint of a stage that has been trained, or an error that names the command that
    trains it: what every later stage and notebook needs first."""
    stage, path = stage_named(stage_name), checkpoint_path(profile, stage_name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: train stage {stage_name} first (`fcn-sneakers "
                                f"train --profile {profile.profile} --stage {stage_name}`, or its notebook)")
    return load_checkpoint(path, stage=stage_name, arch=stage.arch)
