"""Catalogue folders: sneakers on white with their masks, prepared once and cached on disk.

Whatever the source (the embedded renderer or a folder of real product photos), the result is the
same folder layout: ``images/NNNNN.jpg``, ``masks/NNNNN.png`` (0/255, same size) and ``catalog.json``
(what was made, from what, and which files were skipped and why). The folder lives in ``data/cache``
under a name derived from everything that shapes it, so a rerun with the same settings reuses it and a
changed setting makes a new one.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from fcn_lib import paths, synth
from fcn_lib.atomic import atomic_dir, atomic_file
from fcn_lib.images import list_images
from fcn_lib.masks import mask_files
from fcn_lib.scenes import hashed_split


@dataclass(frozen=True)
class Catalog:
    """A catalogue in memory: ``images`` N×S×S×3 uint8 and ``masks`` N×S×S bool."""

    images: np.ndarray
    masks: np.ndarray
    stems: list[str]
    info: dict = field(repr=False)

    def __len__(self) -> int:
        return len(self.stems)

    def split(self, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A fixed ``(train, val)`` split of the items. A rendered catalogue is split by a seeded
        permutation; real photos are split by their file names (:func:`fcn_lib.scenes.hashed_split`),
        so a photo keeps its split when photos are added and an evaluation on real photos can hold out
        exactly the photos a training run on the same folder held out."""
        if self.info.get("kind") != "photos":
            return split_indices(len(self), val_fraction, seed)
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        val = np.array([hashed_split(Path(item["source"]).stem, val_fraction) == "val"
                        for item in self.info["items"]], bool)
        if val.all() or not val.any():  # too few photos for the rule: keep both splits non-empty
            return split_indices(len(self), val_fraction, seed)
        return np.flatnonzero(~val), np.flatnonzero(val)

    @property
    def is_white(self) -> np.ndarray:
        """Which sneakers have white uppers (known for the embedded catalogue only; else all False)."""
        return np.array([item.get("colourway") == "white" for item in self.info["items"]], bool)


def split_indices(count: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed ``(train, val)`` split of ``range(count)``: the same for the same count and seed."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(np.random.SeedSequence([seed, count])).permutation(count)
    n_val = max(1, round(count * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def square(rgb: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad a photo to a square with its own border colour, then resize it and its mask to size×size."""
    h, w, _ = rgb.shape
    side = max(h, w)
    frame = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    fill = tuple(int(v) for v in np.median(frame, axis=0))
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(Image.fromarray(rgb), ((side - w) // 2, (side - h) // 2))
    held = Image.new("L", (side, side), 0)
    held.paste(Image.fromarray(mask.astype(np.uint8) * 255), ((side - w) // 2, (side - h) // 2))
    image = np.asarray(canvas.resize((size, size), Image.BILINEAR))
    return image, np.asarray(held.resize((size, size), Image.BILINEAR)) >= 128


def write_item(folder: Path, index: int, image: np.ndarray, mask: np.ndarray, quality: int = 95) -> str:
    """One catalogue item: ``images/NNNNN.jpg`` and ``masks/NNNNN.png`` (0/255); returns the stem."""
    stem = f"{index:05d}"
    Image.fromarray(image).save(folder / "images" / f"{stem}.jpg", quality=quality)
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "masks" / f"{stem}.png")
    return stem


def _render_item_to(job: tuple[int, int, int, str]) -> dict:
    seed, index, size, folder = job
    image, mask, spec = synth.render_item(seed, index, size)
    return {"stem": write_item(Path(folder), index, image, mask, spec.jpeg_quality), **asdict(spec)}


class _InlineExecutor:
    """``map`` in this process: one worker needs no pool (and no pickling)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items, chunksize=1):
        return map(fn, items)


def write_embedded_catalog(out: str | os.PathLike, count: int, size: int = 224, seed: int = 0,
                           workers: int | None = None, progress: bool = True) -> Path:
    """Render ``count`` sneakers (``fcn_lib.synth``) into a catalogue folder, on every core.

    Each sneaker is a pure function of ``(seed, index)``, so the folder is the same whatever the
    number of workers. Written into a staging folder and renamed into place at the end, so an
    interrupted run never leaves a catalogue that looks complete; ``catalog.json`` records every design.
    """
    from tqdm import tqdm

    if count < 1 or size < 32:
        raise ValueError(f"a catalogue needs count >= 1 and size >= 32 (got count={count}, size={size})")
    workers = workers or os.cpu_count() or 1
    with atomic_dir(out) as staging:
        (staging / "images").mkdir()
        (staging / "masks").mkdir()
        jobs = [(seed, i, size, str(staging)) for i in range(count)]
        with ProcessPoolExecutor(workers) if workers > 1 else _InlineExecutor() as pool:
            items = list(tqdm(pool.map(_render_item_to, jobs, chunksize=32), total=count,
                              desc="rendering catalogue", unit="img", disable=not progress))
        record = {"kind": "embedded", "renderer_version": synth.RENDERER_VERSION, "count": count,
                  "size": size, "seed": seed, "items": items}
        (staging / "catalog.json").write_text(json.dumps(record))
    return Path(out)


def write_photo_catalog(source: str | os.PathLike, out: str | os.PathLike, size: int = 224,
                        method: str = "robust", progress: bool = True) -> Path:
    """Mask every product photo in ``source`` and write them as a catalogue folder at ``size``.

    Bad files and photos whose background cannot be separated are listed in ``catalog.json`` under
    ``skipped`` with the reason; every other photo is used.
    """
    from tqdm import tqdm

    files = list_images(source)
    items, skipped = [], []
    with atomic_dir(out) as staging:
        (staging / "images").mkdir()
        (staging / "masks").mkdir()
        for outcome in tqdm(mask_files(files, method), total=len(files), desc="masking photos",
                            unit="img", disable=not progress):
            if outcome.error:
                skipped.append({"file": outcome.path.name, "reason": outcome.error})
                continue
            stem = write_item(staging, len(items), *square(outcome.photo.rgb, outcome.mask, size))
            items.append({"stem": stem, "source": outcome.path.name})
        if not items:
            raise ValueError(f"{source}: none of its {len(files)} photos could be used; first problems: "
                             + "; ".join(s["reason"] for s in skipped[:3]))
        record = {"kind": "photos", "source": str(source), "size": size, "method": method,
                  "items": items, "skipped": skipped}
        (staging / "catalog.json").write_text(json.dumps(record, indent=1))
    return Path(out)


def catalog_description(sneakers: str, count: int, size: int, seed: int, method: str) -> dict:
    """Everything that shapes a catalogue folder; its hash names the cache entry."""
    if sneakers == "embedded":
        return {"kind": "embedded", "count": count, "size": size, "seed": seed,
                "renderer_version": synth.RENDERER_VERSION}
    folder = paths.resolve(sneakers)
    return {"kind": "photos", "source": str(folder.resolve()),
            "files": paths.file_listing(list_images(folder)), "size": size, "method": method}


def prepare_catalog(sneakers: str = "embedded", count: int = 400, size: int = 224, seed: int = 0,
                    method: str = "robust", progress: bool = True) -> Path:
    """The catalogue folder for these settings, made on first use and reused afterwards.

    ``sneakers`` is ``embedded`` (render ``count`` sneakers) or a folder of product photos on white
    (all of them are used; ``count`` does not apply).
    """
    description = catalog_description(sneakers, count, size, seed, method)
    out = paths.cache_entry(f"catalog-{description['kind']}", description)
    if (out / "catalog.json").is_file():
        return out
    if sneakers == "embedded":
        return write_embedded_catalog(out, count, size, seed, progress=progress)
    return write_photo_catalog(paths.resolve(sneakers), out, size, method, progress=progress)


def load_catalog(folder: str | os.PathLike) -> Catalog:
    """A catalogue folder's photos and masks as arrays.

    The first read decodes every JPEG and PNG and keeps the pixels beside them as two NumPy files;
    every later read (each training stage reads the catalogue) maps those files instead of decoding
    again, which for the full profile's 4,500 photos took 4.5 s a stage. The arrays are read-only.
    """
    folder = Path(folder)
    info_path = folder / "catalog.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"{folder}: not a catalogue folder (no catalog.json)")
    info = json.loads(info_path.read_text())
    stems = [item["stem"] for item in info["items"]]
    decoded = {name: folder / f"decoded_{name}.npy" for name in ("images", "masks")}
    if not decoded["masks"].is_file():  # written last: its presence means both are complete
        arrays = {
            "images": np.stack([np.asarray(Image.open(folder / "images" / f"{s}.jpg").convert("RGB"))
                                for s in stems]),
            "masks": np.stack([np.asarray(Image.open(folder / "masks" / f"{s}.png")) >= 128 for s in stems])}
        for name in ("images", "masks"):  # each file replaced whole, so processes loading at once agree
            with atomic_file(decoded[name]) as file:
                np.save(file, arrays[name])
    return Catalog(np.load(decoded["images"], mmap_mode="r"), np.load(decoded["masks"], mmap_mode="r"),
                   stems, info)
