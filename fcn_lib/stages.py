"""The training stages: which network, grown from which stage, on which data, for how long.

The original work trains coarse to fine on white backgrounds (FCN-32s, then FCN-16s from it, then
FCN-8s from that), then carries FCN-8s over to sneakers pasted onto scenes. The book adds one stage
the seed did not have: the control, the same network and budget on scenes started from the backbone,
so that what the white stages contribute can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fcn_lib import catalog as catalogs
from fcn_lib import data
from fcn_lib.compose import PasteSettings
from fcn_lib.config import Profile
from fcn_lib.optim import Schedule
from fcn_lib.scenes import procedural_scenes, scenes_for


@dataclass(frozen=True)
class Stage:
    """One training stage: which network, on which data, grown from which earlier stage."""

    name: str
    arch: str
    schedule_name: str  # its entry in the profile's ``schedules``: iterations, learning rate, drop
    previous: str | None  # the stage whose weights it starts from; None: the profile's backbone
    data: str = "white"  # "white": catalogue photos; "scenes": sneakers pasted onto scenes


STAGES = {
    "fcn32s_white": Stage("fcn32s_white", "fcn32s", "fcn32s", None),
    "fcn16s_white": Stage("fcn16s_white", "fcn16s", "fcn16s", "fcn32s_white"),
    "fcn8s_white": Stage("fcn8s_white", "fcn8s", "fcn8s", "fcn16s_white"),
    "fcn8s_background": Stage("fcn8s_background", "fcn8s", "scenes", "fcn8s_white", "scenes"),
    # The control: the same network and budget on scenes, from the backbone instead of the white stages.
    "fcn8s_background_scratch": Stage("fcn8s_background_scratch", "fcn8s", "control", None, "scenes"),
    # The skips' controls: the coarser network trained on for the steps the finer one gets, so that a
    # skip's gain is not mistaken for the gain of training longer.
    "fcn32s_white_longer": Stage("fcn32s_white_longer", "fcn32s", "fcn16s", "fcn32s_white"),
    "fcn16s_white_longer": Stage("fcn16s_white_longer", "fcn16s", "fcn8s", "fcn16s_white"),
}


def stage_named(name: str) -> Stage:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; choose one of {', '.join(STAGES)}")
    return STAGES[name]


def schedule_for(profile: Profile, stage: Stage) -> Schedule:
    """The stage's own length and learning rate, with the profile's optimiser settings."""
    settings = profile.schedules[stage.schedule_name]
    return Schedule(iterations=settings.iterations, lr=settings.lr, lr_drop=settings.lr_drop,
                    drop_factor=profile.lr_drop_factor, momentum=profile.momentum,
                    weight_decay=profile.weight_decay, reduction=profile.loss_reduction,
                    optimizer=profile.optimizer, decay=profile.lr_decay)


def _catalog_split(profile: Profile):
    folder = catalogs.prepare_catalog(profile.sneakers, profile.catalog_count, profile.catalog_size,
                                      profile.seed, profile.mask_method)
    catalog = catalogs.load_catalog(folder)
    return catalog, *catalog.split(profile.val_fraction, profile.seed)


def white_datasets(profile: Profile, backdrops: float = 0.0
                   ) -> tuple[data.WhiteBackgroundDataset, data.WhiteBackgroundDataset]:
    """Training (augmented, keyed by step; a ``backdrops`` share on plain backdrops) and validation
    (fixed) sets of catalogue photos on white."""
    catalog, train_items, val_items = _catalog_split(profile)
    return (data.WhiteBackgroundDataset(catalog, train_items, augment=True, size=profile.image_size,
                                        seed=profile.seed, backdrops=backdrops),
            data.WhiteBackgroundDataset(catalog, val_items, size=profile.image_size))


def scene_pool(profile: Profile, split: str) -> tuple[list[np.ndarray], int]:
    """The scenes that composites of ``split`` are drawn from, the photographs first, and how many of
    them are photographs. In training, ``procedural_scenes`` clutter scenes join the photographs,
    which are repeated so that they keep about half the draws however few they are (the list holds
    references, not copies). Validation draws on its photographs alone."""
    photos = data.load_scenes(scenes_for(profile.backgrounds, split, profile.val_fraction),
                              profile.image_size)
    if split != "train" or not profile.procedural_scenes:
        return photos, len(photos)
    clutter = procedural_scenes(profile.procedural_scenes, 2 * profile.image_size, profile.seed)
    photos = photos * max(1, len(clutter) // len(photos))
    return photos + clutter, len(photos)


def _composites(profile: Profile, catalog, items, split: str, length: int, seed: int
                ) -> data.CompositeDataset:
    scenes, _ = scene_pool(profile, split)
    training = {"restyle": profile.restyle, "distractors": profile.distractors} if split == "train" else {}
    settings = PasteSettings(placement=profile.placement, max_sneakers=profile.max_sneakers, **training)
    return data.CompositeDataset(data.catalog_cutouts(catalog, items), scenes, length, profile.image_size,
                                 seed, settings)


def scene_datasets(profile: Profile) -> tuple[data.CompositeDataset, data.CompositeDataset]:
    """Training sneakers on training scenes (a new composite every step), with ``procedural_scenes``
    random clutter scenes mixed in, and a fixed validation set of ``composites_val`` validation sneakers
    on validation photographs: nothing is shared between the two."""
    catalog, train_items, val_items = _catalog_split(profile)
    return (_composites(profile, catalog, train_items, "train", len(train_items), profile.seed),
            _composites(profile, catalog, val_items, "val", profile.composites_val, profile.seed + 1))


def stage_datasets(profile: Profile, stage: Stage):
    """``(training, validation)`` datasets of the stage's kind of data. On scenes, the first
    ``white_share`` of every batch's slots are catalogue photos on white, ``plain_backdrops`` of them
    on a plain backdrop of any colour instead."""
    if stage.data == "white":
        return white_datasets(profile)
    training, validation = scene_datasets(profile)
    slots = round(profile.white_share * profile.batch_size)
    if slots:
        training = data.MixedTraining(white_datasets(profile, profile.plain_backdrops)[0], training, slots)
    return training, validation


def validation_examples(profile: Profile, count: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` validation photos spread over the validation split (the same ones in every notebook):
    pixels N×3×S×S (uint8) and their masks N×S×S (bool)."""
    _, validation = white_datasets(profile)
    chosen = np.linspace(0, len(validation) - 1, min(count, len(validation))).astype(int)
    pixels, masks = zip(*(validation[int(i)] for i in chosen), strict=True)
    return torch.stack(pixels), torch.stack(masks).bool()
