"""Shared fixtures: a small rendered catalogue and an isolated cache folder."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_lib import checkpoints, models, paths, synth


@pytest.fixture(scope="session")
def rendered():
    """Forty catalogue sneakers at the seed's 224 px: (images, masks, specs)."""
    items = [synth.render_item(seed=0, index=i, size=224) for i in range(40)]
    images, masks, specs = zip(*items, strict=True)
    return np.stack(images), np.stack(masks), list(specs)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """Point the data cache at a temporary folder, so tests neither reuse nor litter data/cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(paths.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def photo_folder(tmp_path, rendered) -> Path:
    """A folder of product photos on white (PNG), as a user would point the book at."""
    folder = tmp_path / "photos"
    folder.mkdir()
    images, _, _ = rendered
    for i, image in enumerate(images[:6]):
        Image.fromarray(image).save(folder / f"shoe{i}.png")
    return folder


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A small FCN-8s with non-zero scores, saved as a checkpoint of a 32-pixel profile."""
    torch.manual_seed(0)
    model = models.FCN8s(width=1 / 32, dropout=0.0)
    for name, parameter in model.named_parameters():
        if name.startswith("score"):
            parameter.data.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "fcn8s_white.pt"
    checkpoints.save_checkpoint(path, {"format": checkpoints.CHECKPOINT_FORMAT, "stage": "fcn8s_white",
                                 "model": model.describe(), "state_dict": model.state_dict(),
                                 "profile": {"image_size": 32}})
    return path


SHARED = paths.shared_data_dir()
needs_shared_data = pytest.mark.skipif(SHARED is None, reason="../shared/data (real images) is absent")
