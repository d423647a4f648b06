"""Profiles: one typed configuration per way of running the book, and the one place that seeds.

A profile is a flat YAML file in ``notebooks/profiles/``. The same file is papermill's parameter file
(``-f notebooks/profiles/cpu.yaml``) and the command line's ``--profile cpu``, so a notebook and the
command line run with identical settings. Flat keeps it usable as papermill parameters.
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from fcn_lib import paths


@dataclass(frozen=True)
class Profile:
    """Every setting a notebook or command reads. Defaults are the ``cpu`` profile's values."""

    profile: str = "cpu"
    seed: int = 0
    # The embedded catalogue (fcn_lib.synth) or a folder of real product photos on white.
    sneakers: str = "embedded"
    catalog_count: int = 400
    # Catalogue photos are kept at the seed's 224 px; training resizes them to image_size.
    catalog_size: int = 224
    # Background scenes: the photos shipped in installed wheels, a VOCdevkit, or a folder of photos.
    backgrounds: str = "embedded"
    image_size: int = 128
    val_fraction: float = 0.2
    mask_method: str = "robust"
    num_workers: int = 0
    # The network: VGG-16 layout, channel width multiplier (1.0 = VGG-16), trunk weights.
    layout: str = "aligned"
    width: float = 0.125
    backbone_weights: str = "none"
    dropout: float = 0.0
    # Optimisation. The loss reduction says what the learning rates mean (see fcn_lib.train).
    loss_reduction: str = "mean"
    optimizer: str = "adam"
    batch_size: int = 8
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_drop_factor: float = 0.1
    lr_decay: str = "step"  # "step": times lr_drop_factor at lr_drop_<stage>; "cosine": down to that
    iterations_32s: int = 1000
    lr_32s: float = 0.001
    lr_drop_32s: int = 0
    iterations_16s: int = 600
    lr_16s: float = 0.0005
    lr_drop_16s: int = 0
    iterations_8s: int = 600
    lr_8s: float = 0.0005
    lr_drop_8s: int = 0
    # Sneakers on scenes: the last stage, and its control trained on scenes from the backbone.
    iterations_bg: int = 3500
    lr_bg: float = 0.002
    lr_drop_bg: int = 2800
    placement: str = "uniform"
    max_sneakers: int = 2
    procedural_scenes: int = 300
    composites_val: int = 200
    val_every: int = 250
    device: str = "auto"
    # Speed (fcn_lib.acceleration): "bf16" autocast, plain "fp32", or "auto" (bf16 where the hardware
    # has it); NHWC tensors; torch.compile, in one of its modes ("reduce-overhead": CUDA graphs).
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    compile_mode: str = "default"

    def replace(self, **changes) -> Profile:
        """A copy with some settings changed, checked like a file's settings."""
        return _from_mapping({**dataclasses.asdict(self), **changes}, source="overrides")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _accepts(hint, value) -> bool:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option in (int, str, bool) and type(value) is option:
            return True
    return False


def _from_mapping(values: dict, source: str) -> Profile:
    known = typing.get_type_hints(Profile)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    for name, value in values.items():
        if not _accepts(known[name], value):
            hint = " (YAML reads 1e-8 as text: write 1.0e-8)" if isinstance(value, str) else ""
            raise TypeError(f"{source}: setting {name!r} should be {known[name].__name__}, "
                            f"got {value!r}{hint}")
    cleaned = {name: float(v) if known[name] is float else v for name, v in values.items()}
    return Profile(**cleaned)


def profile_path(name_or_path: str | os.PathLike) -> Path:
    """``cpu`` means ``notebooks/profiles/cpu.yaml``; anything with a suffix or slash is a path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return Path(text)
    return paths.profiles_dir() / f"{text}.yaml"


def load_profile(name_or_path: str | os.PathLike = "cpu", **overrides) -> Profile:
    """Read a profile file into a :class:`Profile`, then apply ``overrides`` (e.g. notebook parameters).

    Unknown keys and wrong types are errors that name the file, so a typo cannot silently fall back to
    a default.
    """
    path = profile_path(name_or_path)
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in paths.profiles_dir().glob("*.yaml")))
        raise FileNotFoundError(f"profile {path} does not exist (available: {available})")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a profile is a mapping of settings, got {type(loaded).__name__}")
    return _from_mapping({**loaded, **overrides}, source=str(path))


def from_notebook(namespace: dict) -> Profile:
    """The profile a notebook's ``profile`` parameter names, with the notebook's other parameters
    (the names of settings among its variables) applied on top: what papermill injected, or what the
    reader typed into the parameters cell."""
    settings = {f.name for f in dataclasses.fields(Profile)} - {"profile"}
    return load_profile(namespace["profile"], **{k: v for k, v in namespace.items() if k in settings})


def code_version() -> str:
    """The commit the code came from (``git describe --always --dirty``), else the package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                             cwd=paths.repo_root(), capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError, FileNotFoundError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"fcn-sneakers {version('fcn-sneakers')}"
        except PackageNotFoundError:
            return "unknown"


def provenance(profile: Profile) -> dict:
    """What every artefact records: profile name, full configuration and code version."""
    return {"profile": profile.profile, "config": profile.to_dict(), "code_version": code_version()}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) from one number; the only place that seeds."""
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator third-party code draws from)
    torch.manual_seed(seed)
