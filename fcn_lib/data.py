"""PyTorch datasets: sneakers on white, and sneakers pasted onto scenes.

Both return ``(image, mask)``: a float tensor 3×S×S normalised with ImageNet statistics (what VGG-16
was trained on) and a long tensor S×S of 0 (background) and 1 (sneaker).

Every item is a pure function of its key and the dataset's seed, in whatever process it is made. An
integer key ``i`` is item ``i`` of the fixed set (validation). A key ``(step, slot)`` is the ``slot``-th
image of training step ``step``: which photo, which augmentation and which composite all follow from
it. So training batches need no loader state, and a run resumed at step ``k`` sees exactly the batches
an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from fcn_lib import paths
from fcn_lib.atomic import atomic_dir
from fcn_lib.catalog import Catalog
from fcn_lib.compose import Cutout, PasteSettings, compose, make_cutout
from fcn_lib.images import load_photo
from fcn_lib.scenes import Scene

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def split_indices(count: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed ``(train, val)`` split of ``range(count)``: the same for the same count and seed."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(np.random.SeedSequence([seed, count])).permutation(count)
    n_val = max(1, round(count * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def normalise(image: torch.Tensor) -> torch.Tensor:
    """uint8 C×H×W → float, ImageNet-normalised."""
    return (image.float() / 255.0 - _MEAN) / _STD


def denormalise(image: torch.Tensor) -> np.ndarray:
    """The inverse of :func:`normalise`, to H×W×3 uint8 for showing."""
    rgb = (image.detach().cpu() * _STD + _MEAN).clamp(0, 1) * 255.0
    return rgb.round().byte().permute(1, 2, 0).numpy()


def to_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return normalise(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)), \
        torch.from_numpy(np.ascontiguousarray(mask)).long()


def white_augmentation() -> v2.Transform:
    """Joint image/mask augmentation for catalogue photos: the mask follows every geometric change
    (``tv_tensors.Mask`` is resampled with nearest neighbours), colour changes touch the image only."""
    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomAffine(degrees=6, translate=(0.1, 0.1), scale=(0.7, 1.1),
                        fill={tv_tensors.Image: 255, tv_tensors.Mask: 0}),
        v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.3, hue=0.03),
    ])


def _generator(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def resize_catalog(images: np.ndarray, masks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """All photos and masks at ``size``×``size`` at once (antialiased; a mask pixel is sneaker when more
    than half of the area it covers is), so training does not resize every photo on every step."""
    pictures = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    shrunk = F.interpolate(pictures, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    coverage = F.interpolate(torch.from_numpy(masks)[:, None].float(), size=(size, size), mode="bilinear",
                             antialias=True, align_corners=False)
    return (shrunk.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy(),
            (coverage[:, 0] >= 0.5).numpy())


class WhiteBackgroundDataset(Dataset):
    """Catalogue photos on white at ``size`` px (default: the catalogue's own), with joint augmentation
    when ``augment`` is set. Training keys ``(step, slot)`` draw a photo from ``indices`` at random."""

    def __init__(self, catalog: Catalog, indices, augment: bool = False, size: int | None = None,
                 seed: int = 0):
        self.indices, self.seed = np.asarray(indices), seed
        self.images, self.masks = catalog.images[self.indices], catalog.masks[self.indices]
        if size and size != self.images.shape[1]:
            self.images, self.masks = resize_catalog(self.images, self.masks, size)
        self.transform = white_augmentation() if augment else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(key, tuple):  # (step, slot): a different photo in every slot of a step
            step, slot = key
            order = _generator(self.seed, 1, step).permutation(len(self.indices))
            index, draw = order[slot % len(order)], (self.seed, 1, step, slot)
        else:
            index, draw = key, (self.seed, 0, key)
        image, mask = self.images[index], self.masks[index]
        if self.transform is None:
            return to_tensors(image, mask)
        picture = tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1))
        label = tv_tensors.Mask(torch.from_numpy(mask.astype(np.uint8)))
        with torch.random.fork_rng(devices=[]):  # the augmentation's randomness follows from the key
            torch.manual_seed(int(_generator(*draw).integers(2**62)))
            picture, label = self.transform(picture, label)
        return normalise(picture), label.long()


def load_scenes(scenes: list[Scene], size: int) -> list[np.ndarray]:
    """Decode scenes once, shrunk so the shorter side is at most twice ``size``, cached on disk.

    Compositing crops at least half the shorter side, so nothing finer than this is ever used; the
    cache turns a VOC-sized decode of minutes into a read of seconds on every later run.
    """
    listing = [(str(s.path), s.path.stat().st_size, s.path.stat().st_mtime_ns) for s in scenes]
    key = hashlib.sha256(json.dumps([listing, size]).encode()).hexdigest()[:16]
    folder = paths.cache_dir() / f"scenes-{key}"
    if not (folder / "index.json").is_file():
        with atomic_dir(folder) as staging:
            arrays = [_shrunk(load_photo(s.path).rgb, 2 * size) for s in scenes]
            offsets = np.cumsum([0] + [a.size for a in arrays]).tolist()
            np.save(staging / "pixels.npy", np.concatenate([a.ravel() for a in arrays]))
            index = {"shapes": [a.shape for a in arrays], "offsets": offsets,
                     "names": [s.name for s in scenes]}
            (staging / "index.json").write_text(json.dumps(index))
    index = json.loads((folder / "index.json").read_text())
    pixels = np.load(folder / "pixels.npy", mmap_mode="r")
    return [np.asarray(pixels[start:start + int(np.prod(shape))]).reshape(shape)
            for start, shape in zip(index["offsets"], index["shapes"], strict=False)]


def _shrunk(rgb: np.ndarray, shorter: int) -> np.ndarray:
    h, w, _ = rgb.shape
    factor = shorter / min(h, w)
    if factor >= 1:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((round(w * factor), round(h * factor)), Image.BILINEAR))


def catalog_cutouts(catalog: Catalog, indices) -> list[Cutout]:
    """Cut the sneakers of the given catalogue items out of their photos."""
    return [make_cutout(catalog.images[i], catalog.masks[i], catalog.stems[i]) for i in indices]


class CompositeDataset(Dataset):
    """Sneakers pasted onto scenes, made on the fly from the key: ``length`` fixed items for integer
    keys (validation), a fresh composite for every training key ``(step, slot)``."""

    def __init__(self, cutouts: list[Cutout], scenes: list[np.ndarray], length: int, size: int,
                 seed: int = 0, settings: PasteSettings | None = None):
        if not cutouts or not scenes:
            raise ValueError("a composite dataset needs at least one cutout and one scene")
        self.cutouts, self.scenes, self.length, self.size = cutouts, scenes, length, size
        self.seed, self.settings = seed, settings or PasteSettings()

    def __len__(self) -> int:
        return self.length

    def composite(self, key):
        """The raw composite: ``(image uint8, label bool, placements)``."""
        rng = _generator(self.seed, 1, *key) if isinstance(key, tuple) else _generator(self.seed, 0, key)
        scene = self.scenes[int(rng.integers(len(self.scenes)))]
        return compose(scene, self.cutouts, self.size, rng, self.settings)

    def __getitem__(self, key) -> tuple[torch.Tensor, torch.Tensor]:
        image, label, _ = self.composite(key)
        return to_tensors(image, label)


class StepBatches(Sampler):
    """Yields the keys of training steps ``start .. stop-1``: ``[(step, 0), ..., (step, batch-1)]``."""

    def __init__(self, start: int, stop: int, batch_size: int):
        self.start, self.stop, self.batch_size = start, stop, batch_size

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield [(step, slot) for slot in range(self.batch_size)]


def _own_generator() -> torch.Generator:
    """Items carry their own randomness; a private generator keeps the DataLoader from drawing its
    worker seed from the global one, which would shift dropout after a resume or a validation."""
    return torch.Generator().manual_seed(0)


def training_loader(dataset: Dataset, batch_size: int, start: int, stop: int, num_workers: int = 0
                    ) -> DataLoader:
    """Batches for steps ``start .. stop-1``; resuming at ``start`` gives the same batches as before."""
    return DataLoader(dataset, batch_sampler=StepBatches(start, stop, batch_size), num_workers=num_workers,
                      pin_memory=torch.cuda.is_available(), generator=_own_generator())


def evaluation_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """The fixed items ``0 .. len-1`` in order."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      pin_memory=torch.cuda.is_available(), generator=_own_generator())
