"""PyTorch datasets: sneakers on white, and sneakers pasted onto scenes.

Both return ``(image, mask)``: a uint8 tensor 3×S×S of pixels and a uint8 tensor S×S of 0 (background)
and 1 (sneaker). Bytes rather than floats cross from the loader's workers to the GPU (a quarter of the
image's size, an eighth of a long mask's); :func:`to_model` then normalises with ImageNet statistics
(what VGG-16 was trained on) on the device itself.

Every item is a pure function of its key and the dataset's seed, in whatever process it is made. An
integer key ``i`` is item ``i`` of the fixed set (validation). A key ``(step, slot)`` is the ``slot``-th
image of training step ``step``: which photo, which augmentation and which composite all follow from
it. So training batches need no loader state, and a run resumed at step ``k`` sees exactly the batches
an uninterrupted run would have seen.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from fcn_lib import paths
from fcn_lib.acceleration import memory_format
from fcn_lib.atomic import atomic_dir
from fcn_lib.catalog import Catalog
from fcn_lib.compose import Cutout, PasteSettings, compose, make_cutout
from fcn_lib.images import load_photo
from fcn_lib.photo_augmentation import WhiteAugmentation, on_plain_backdrop
from fcn_lib.scenes import Scene

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


@functools.cache
def _statistics_on(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and deviation on ``device``, copied there once: a copy from ordinary memory at every
    step would make the host wait for the GPU."""
    return _MEAN.to(device), _STD.to(device)


def normalise(image: torch.Tensor) -> torch.Tensor:
    """(N×)C×H×W pixels in 0..255 (uint8 or float), on any device → float, ImageNet-normalised."""
    mean, std = _statistics_on(image.device)
    return (image.float() / 255.0 - mean) / std


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """The inverse of :func:`normalise` for one C×H×W image: H×W×3 uint8, to show what the network sees."""
    mean, std = _statistics_on(image.device)
    pixels = ((image.float() * std + mean) * 255.0).clamp(0, 255).round()
    return pixels.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def to_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """An item: H×W×3 uint8 pixels → 3×H×W, and the mask as 0/1 bytes."""
    return (torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1),
            torch.from_numpy(np.ascontiguousarray(mask).astype(np.uint8)))


def to_model(images: torch.Tensor, masks: torch.Tensor, device: torch.device, channels_last: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of items as the network and the loss take it, on ``device``: images normalised float
    (in the model's memory format), masks long. The copy does not wait (pinned memory makes it
    asynchronous), and the bytes are turned into floats where they will be used."""
    pixels = images.to(device, non_blocking=True).contiguous(memory_format=memory_format(channels_last))
    return normalise(pixels), masks.to(device, non_blocking=True).long()


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
    when ``augment`` is set. Training keys ``(step, slot)`` draw a photo from ``indices`` at random,
    and put a ``backdrops`` share of them on a plain backdrop of any colour instead of the paper."""

    def __init__(self, catalog: Catalog, indices, augment: bool = False, size: int | None = None,
                 seed: int = 0, backdrops: float = 0.0):
        self.indices, self.seed, self.backdrops = np.asarray(indices), seed, backdrops
        self.images, self.masks = catalog.images[self.indices], catalog.masks[self.indices]
        if size and size != self.images.shape[1]:
            self.images, self.masks = resize_catalog(self.images, self.masks, size)
        self.augmentation = WhiteAugmentation() if augment else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(key, tuple):  # (step, slot): a different photo in every slot of a step
            step, slot = key
            order = _generator(self.seed, 1, step).permutation(len(self.indices))
            index, draw = order[slot % len(order)], (self.seed, 1, step, slot)
        else:
            index, draw = key, (self.seed, 0, key)
        image, mask, rng = self.images[index], self.masks[index], _generator(*draw)
        if self.augmentation is not None:  # its randomness follows from the key
            image, mask = self.augmentation(image, mask, rng)
        if isinstance(key, tuple) and self.backdrops and rng.random() < self.backdrops:
            image = on_plain_backdrop(image, mask, rng)
        return to_tensors(image, mask)


def load_scenes(scenes: list[Scene], size: int) -> list[np.ndarray]:
    """Decode scenes once, shrunk so the shorter side is at most twice ``size``, cached on disk.

    Compositing crops at least half the shorter side, so nothing finer than this is ever used; the
    cache turns a VOC-sized decode of minutes into a read of seconds on every later run.
    """
    folder = paths.cache_entry("scenes", [paths.file_listing(s.path for s in scenes), size])
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

    def _draws(self, key) -> np.random.Generator:
        return _generator(self.seed, 1, *key) if isinstance(key, tuple) else _generator(self.seed, 0, key)

    def scene_index(self, key) -> int:
        """Which of ``scenes`` the composite of ``key`` is made on (to score the scenes one by one)."""
        return int(self._draws(key).integers(len(self.scenes)))

    def composite(self, key):
        """The raw composite: ``(image uint8, label bool, placements)``."""
        rng = self._draws(key)
        scene = self.scenes[int(rng.integers(len(self.scenes)))]
        return compose(scene, self.cutouts, self.size, rng, self.settings)

    def __getitem__(self, key) -> tuple[torch.Tensor, torch.Tensor]:
        image, label, _ = self.composite(key)
        return to_tensors(image, label)


class MixedTraining(Dataset):
    """Training keys ``(step, slot)`` drawn from two datasets: the first ``slots_from_first`` slots of
    every step from ``first``, the rest from ``second``. The scene stage keeps a few catalogue photos on
    white in every batch this way, so that fine-tuning on scenes does not unlearn them."""

    def __init__(self, first: Dataset, second: Dataset, slots_from_first: int):
        self.first, self.second, self.slots_from_first = first, second, slots_from_first

    def __len__(self) -> int:
        return len(self.second)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.first if key[1] < self.slots_from_first else self.second)[key]


class StepBatches(Sampler):
    """Yields the keys of training steps ``start .. stop-1``: ``[(step, 0), ..., (step, batch-1)]``, or
    only the ``slots`` given (one process's share of each step's batch under ``torchrun``)."""

    def __init__(self, start: int, stop: int, batch_size: int, slots: range | None = None):
        self.start, self.stop = start, stop
        self.slots = range(batch_size) if slots is None else slots

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield [(step, slot) for slot in self.slots]


class Shard(Sampler):
    """Items ``offset, offset + stride, ...`` of a fixed set: each process's part of a validation set.
    (``DistributedSampler`` would repeat items to even the parts out, which would count them twice.)"""

    def __init__(self, length: int, offset: int = 0, stride: int = 1):
        self.indices = range(offset, length, stride)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)


def _own_generator() -> torch.Generator:
    """Items carry their own randomness; a private generator keeps the DataLoader from drawing its
    worker seed from the global one, which would shift dropout after a resume or a validation."""
    return torch.Generator().manual_seed(0)


def _worker_settings(num_workers: int) -> dict:
    """Workers stay for the whole loader and each prepares several batches ahead, so a fast GPU does
    not wait between steps; pinned memory lets the copy to the GPU overlap the step before."""
    ahead = {"prefetch_factor": 4} if num_workers else {}
    return {"num_workers": num_workers, "pin_memory": torch.cuda.is_available(),
            "generator": _own_generator(), **ahead}


def training_loader(dataset: Dataset, batch_size: int, start: int, stop: int, num_workers: int = 0,
                    slots: range | None = None) -> DataLoader:
    """Batches for steps ``start .. stop-1``; resuming at ``start`` gives the same batches as before.
    ``slots`` restricts each batch to one process's share of it."""
    return DataLoader(dataset, batch_sampler=StepBatches(start, stop, batch_size, slots),
                      **_worker_settings(num_workers))


def evaluation_loader(dataset: Dataset, batch_size: int, num_workers: int = 0, shard: tuple[int, int] = (0, 1)
                      ) -> DataLoader:
    """The fixed items ``0 .. len-1`` in order, or every ``shard[1]``-th from ``shard[0]``."""
    offset, stride = shard
    return DataLoader(dataset, batch_size=batch_size, sampler=Shard(len(dataset), offset, stride),
                      **_worker_settings(num_workers))
