"""Profiles: one typed configuration per way of running the book, and the one place that seeds.

The defaults below *are* the ``cpu`` profile, the book's default. A profile file in
``notebooks/profiles/`` holds only what differs from them (as nanoGPT's config overrides do), so each
value is written once: ``smoke.yaml`` shrinks everything for CI, ``full.yaml`` is the seed's GPU
schedule. The same file is papermill's parameter file (``-f notebooks/profiles/smoke.yaml``) and the
command line's ``--profile smoke``, so a notebook and the command line run with identical settings.

Every training stage's length and learning rate live in one typed entry of ``schedules``; a file or
a notebook changes only the fields it names (``schedules: {fcn32s: {iterations: 4}}``).
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from fcn_lib import paths


@dataclass(frozen=True)
class StageSettings:
    """How long one training stage runs and how fast it learns (the loss reduction says what ``lr``
    means, see ``fcn_lib.optim``)."""

    iterations: int
    lr: float
    lr_drop: int = 0  # the step from which lr is multiplied by the profile's lr_drop_factor; 0: never


def _cpu_schedules() -> dict[str, StageSettings]:
    return {"fcn32s": StageSettings(1000, 0.001), "fcn16s": StageSettings(600, 0.0005),
            "fcn8s": StageSettings(600, 0.0005),
            # Adam at 2e-3 on scenes: 0.82 against 0.78 at 1e-3 and 0.80 at 3e-3 (book/tuning.md).
            "scenes": StageSettings(3500, 0.002, lr_drop=2800),
            # The control from the backbone runs the scenes schedule's first 1,500 steps (before its drop),
            # and is compared with the fine-tuned network at the same step.
            "control": StageSettings(1500, 0.002)}


@dataclass(frozen=True)
class Profile:
    """Every setting a notebook or command reads. Defaults are the ``cpu`` profile's values."""

    profile: str = "cpu"
    seed: int = 0
    # The embedded catalogue (fcn_lib.synth) or a folder of real product photos on white.
    sneakers: str = "embedded"
    catalog_count: int = 1000
    # Catalogue photos are kept at the seed's 224 px; training resizes them to image_size.
    catalog_size: int = 224
    # Background scenes: the photos shipped in installed wheels, a VOCdevkit, or a folder of photos.
    backgrounds: str = "embedded"
    image_size: int = 128
    val_fraction: float = 0.2
    mask_method: str = "robust"
    # On two cores a loader process would compete with the network's two threads: loading in the
    # training process itself is about 7% faster there.
    num_workers: int = 0
    # The network: VGG-16 layout, channel width multiplier (1.0 = VGG-16), trunk weights.
    layout: str = "aligned"
    width: float = 0.125
    backbone_weights: str = "none"
    dropout: float = 0.0
    # Batch normalisation after every convolution of the trunk, as in torchvision's vgg16_bn: a trunk
    # trained from a random start learns the rendered sneakers better with it in the same steps
    # (book/tuning.md, tenth round). "none" for the original work's ImageNet VGG-16, which has none.
    normalisation: str = "batch"
    # When segmenting, this share of every batch normalisation layer's statistics comes from the photo
    # itself (fcn_lib.adaptation): the rendered catalogue's network, whose training statistics are of
    # renders, finds more real sneakers with half (book/tuning.md, twelfth round). 0 for none; a
    # trunk with normalisation: none has no such statistics, and the setting does nothing there.
    photo_statistics: float = 0.5
    # Optimisation. The loss reduction says what the learning rates mean (see fcn_lib.optim).
    loss_reduction: str = "mean"
    optimizer: str = "adam"
    batch_size: int = 8
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_drop_factor: float = 0.1
    lr_decay: str = "step"  # "step": times lr_drop_factor from a stage's lr_drop; "cosine": down to that
    # Per stage: fcn32s, fcn16s, fcn8s on white; scenes for FCN-8s on composites; control for its control.
    schedules: dict[str, StageSettings] = field(default_factory=_cpu_schedules)
    # Sneakers on scenes; white_share of every scene-stage batch stays catalogue photos on white. In
    # training composites a share of the sneakers wear a photograph's texture (restyle), and up to
    # `distractors` objects that are not sneakers are pasted too (fcn_lib.compose).
    white_share: float = 0.5
    # This share of those photos stand on a plain backdrop of any colour instead of the white paper, so
    # that white alone does not mark background (fcn_lib.photo_augmentation).
    plain_backdrops: float = 0.5
    restyle: float = 0.3
    distractors: int = 2
    # A share of every scene-stage batch seen through a random convolution (fcn_lib.random_convolution):
    # texture and colour stop being reliable, so shape carries more of the decision.
    random_convolution: float = 0.5
    placement: str = "uniform"
    max_sneakers: int = 2
    procedural_scenes: int = 300
    composites_val: int = 200
    val_every: int = 250
    device: str = "auto"
    # Speed (fcn_lib.acceleration): "bf16" autocast, plain "fp32", or "auto" (bf16 where the hardware
    # has it); NHWC tensors; torch.compile, in one of its modes ("reduce-overhead": CUDA graphs).
    # The cpu profile computes in float32 everywhere, so that a laptop without bfloat16 hardware and
    # the published build agree.
    amp: str = "fp32"
    channels_last: bool = True
    compile: bool = False
    compile_mode: str = "default"

    def replace(self, **changes) -> Profile:
        """A copy with some settings changed, checked like a file's settings; ``schedules`` entries are
        merged field by field."""
        return _from_mapping(_merge(self.to_dict(), changes, "overrides"), source="overrides")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SCHEDULE_NAMES = tuple(_cpu_schedules())


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


def _checked(cls, values: dict, source: str, where: str = ""):
    """``cls(**values)`` after checking every name and type, with errors that name the file and key."""
    known = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{source}: unknown setting(s) {', '.join(where + u for u in unknown)}; "
                         f"known: {', '.join(where + k for k in known)}")
    for name, value in values.items():
        hint = known[name]
        if typing.get_origin(hint) is dict:
            continue
        if not _accepts(hint, value):
            tip = " (YAML reads 1e-8 as text: write 1.0e-8)" if isinstance(value, str) else ""
            raise TypeError(f"{source}: setting {where + name!r} should be {hint.__name__}, "
                            f"got {value!r}{tip}")
    return cls(**{name: float(v) if known[name] is float else v for name, v in values.items()})


def _schedules_from(values: dict, source: str) -> dict[str, StageSettings]:
    unknown = sorted(set(values) - set(SCHEDULE_NAMES))
    if unknown:
        raise ValueError(f"{source}: unknown stage(s) {', '.join(unknown)} under 'schedules'; "
                         f"known: {', '.join(SCHEDULE_NAMES)}")
    schedules = {}
    for key, settings in values.items():
        settings = _checked(StageSettings, settings, source, where=f"schedules.{key}.")
        if settings.iterations < 0 or settings.lr_drop < 0:
            raise ValueError(f"{source}: schedules.{key}: step counts cannot be negative ({settings})")
        if settings.lr <= 0:
            raise ValueError(f"{source}: schedules.{key}.lr must be positive, got {settings.lr!r}")
        schedules[key] = settings
    return schedules


# Settings that have to be positive, or a share between 0 and 1: anything else fails only later, far
# from the file that set it (a zero batch size deep in the loader, a negative share as silent nonsense).
POSITIVE = ("catalog_count", "catalog_size", "image_size", "batch_size", "val_every", "width")
NON_NEGATIVE = ("seed", "num_workers", "dropout", "weight_decay", "momentum", "distractors", "max_sneakers",
                "procedural_scenes", "composites_val")
SHARES = ("val_fraction", "white_share", "plain_backdrops", "restyle", "random_convolution",
          "lr_drop_factor", "photo_statistics")
NORMALISATIONS = ("none", "batch")  # fcn_lib.models.NORMALISATIONS, repeated: config imports no torch


def _check_ranges(profile: Profile, source: str) -> Profile:
    for name in POSITIVE:
        if getattr(profile, name) <= 0:
            raise ValueError(f"{source}: setting {name!r} must be positive, got {getattr(profile, name)!r}")
    for name in NON_NEGATIVE:
        if getattr(profile, name) < 0:
            raise ValueError(f"{source}: setting {name!r} cannot be negative, got {getattr(profile, name)!r}")
    for name in SHARES:
        if not 0 <= getattr(profile, name) <= 1:
            raise ValueError(f"{source}: setting {name!r} is a share between 0 and 1, "
                             f"got {getattr(profile, name)!r}")
    if profile.normalisation not in NORMALISATIONS:
        raise ValueError(f"{source}: setting 'normalisation' must be one of {NORMALISATIONS}, "
                         f"got {profile.normalisation!r}")
    if profile.normalisation != "none" and profile.backbone_weights != "none":
        raise ValueError(f"{source}: backbone_weights {profile.backbone_weights!r} are a VGG-16 without "
                         f"normalisation layers; set normalisation: none to start from them")
    return profile


def _from_mapping(values: dict, source: str) -> Profile:
    settings = dict(values)
    settings["schedules"] = _schedules_from(settings.get("schedules", {}), source)
    return _check_ranges(_checked(Profile, settings, source), source)


def _merge(base: dict, changes: dict, source: str) -> dict:
    """``base`` with ``changes`` applied; under ``schedules`` only the fields a change names are replaced."""
    merged = {**base, **changes}
    if "schedules" in changes:
        given = changes["schedules"]
        if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
            raise TypeError(f"{source}: 'schedules' maps schedule names ({', '.join(SCHEDULE_NAMES)}) to "
                            f"their settings (iterations, lr, lr_drop), got {given!r}")
        merged["schedules"] = {key: {**base.get("schedules", {}).get(key, {}), **given.get(key, {})}
                               for key in {*base.get("schedules", {}), *given}}
    return merged


def profile_path(name_or_path: str | os.PathLike) -> Path:
    """``cpu`` means ``notebooks/profiles/cpu.yaml``; anything with a suffix or slash is a path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return Path(text)
    return paths.profiles_dir() / f"{text}.yaml"


def profile_file(name_or_path: str | os.PathLike) -> dict:
    """The settings a profile file writes down (what differs from the defaults)."""
    path = profile_path(name_or_path)
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in paths.profiles_dir().glob("*.yaml")))
        raise FileNotFoundError(f"profile {path} does not exist (available: {available})")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a profile is a mapping of settings, got {type(loaded).__name__}")
    return loaded


def load_profile(name_or_path: str | os.PathLike = "cpu", **overrides) -> Profile:
    """The defaults, then a profile file's differences, then ``overrides`` (e.g. notebook parameters).

    Unknown keys and wrong types are errors that name the file, so a typo cannot silently fall back to
    a default.
    """
    source = str(profile_path(name_or_path))
    values = _merge(Profile().to_dict(), profile_file(name_or_path), source)
    return _from_mapping(_merge(values, overrides, source), source=source)


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
