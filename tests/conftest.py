"""Shared fixtures: a small rendered catalogue and an isolated cache folder."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_lib import paths, synth


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


SHARED = paths.shared_data_dir()
needs_shared_data = pytest.mark.skipif(SHARED is None, reason="../shared/data (real images) is absent")
