"""Background scenes to paste sneakers onto, split so that no photo is in both training and validation.

Three sources, chosen by the profile's ``backgrounds`` setting:

``embedded``
    Real photographs that ship inside installed wheels (scikit-image's ``skimage/data``, scikit-learn's
    and matplotlib's sample images), so the book runs offline. The split is fixed by hand below; the two
    motorcycle photos are a stereo pair of one scene and stay together.
a ``VOCdevkit`` folder
    PASCAL VOC 2012 as distributed; its own ``ImageSets`` lists give the split.
any other folder of photos
    Split by a hash of each file name, so adding photos never moves an old one between splits.
"""

from __future__ import annotations

import importlib.util
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fcn_lib import paths
from fcn_lib.images import list_images

SPLITS = ("train", "val")


@dataclass(frozen=True)
class Scene:
    """One background photo: ``source`` names the original photograph (the unit of the split)."""

    name: str
    source: str
    path: Path


# (package, file, source photo, split). Colour scenes and grey ground textures in both splits.
_EMBEDDED = [
    ("skimage", "data/astronaut.png", "astronaut", "train"),
    ("skimage", "data/chelsea.png", "chelsea", "train"),
    ("skimage", "data/rocket.jpg", "rocket", "train"),
    ("skimage", "data/hubble_deep_field.jpg", "hubble", "train"),
    ("skimage", "data/camera.png", "camera", "train"),
    ("skimage", "data/brick.png", "brick", "train"),
    ("skimage", "data/grass.png", "grass", "train"),
    ("sklearn", "datasets/images/china.jpg", "china", "train"),
    # More training photos, mostly grey: every unseen object a network has met in training is one it is
    # less likely to call a sneaker on a validation photo.
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "hopper", "train"),
    ("matplotlib", "mpl-data/sample_data/Minduka_Present_Blue_Pack.png", "present", "train"),
    ("skimage", "data/coins.png", "coins", "train"),
    ("skimage", "data/moon.png", "moon", "train"),
    ("skimage", "data/page.png", "page", "train"),
    ("skimage", "data/text.png", "text", "train"),
    ("skimage", "data/retina.jpg", "retina", "train"),
    ("skimage", "data/ihc.png", "ihc", "train"),
    ("skimage", "data/clock_motion.png", "clock", "train"),
    ("skimage", "data/cell.png", "cell", "train"),
    ("skimage", "data/coffee.png", "coffee", "val"),
    ("skimage", "data/motorcycle_left.png", "motorcycle", "val"),
    ("skimage", "data/motorcycle_right.png", "motorcycle", "val"),
    ("skimage", "data/gravel.png", "gravel", "val"),
    ("sklearn", "datasets/images/flower.jpg", "flower", "val"),
]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the embedded scenes need the {package} package installed")
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_scenes(split: str) -> list[Scene]:
    """The photos shipped in installed wheels, for one split (located without importing the packages)."""
    _check_split(split)
    scenes = []
    for package, relative, source, scene_split in _EMBEDDED:
        if scene_split == split:
            path = _package_dir(package) / relative
            if not path.is_file():
                raise FileNotFoundError(f"embedded scene {path} is missing from the installed {package}")
            scenes.append(Scene(Path(relative).stem, source, path))
    return scenes


def _voc_year_dir(root: Path) -> Path | None:
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir():
            return candidate
    return None


def is_voc(root: str | os.PathLike) -> bool:
    return _voc_year_dir(Path(root)) is not None or Path(root).name == "VOCdevkit"


def voc_scenes(root: str | os.PathLike, split: str) -> list[Scene]:
    """PASCAL VOC 2012 scenes of one split, from ``ImageSets/Segmentation`` (else ``ImageSets/Main``)."""
    _check_split(split)
    expected = ("expected VOCdevkit/VOC2012/JPEGImages/*.jpg and "
                "VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt (PASCAL VOC 2012 as distributed)")
    year = _voc_year_dir(Path(root))
    if year is None:
        raise FileNotFoundError(f"{root}: not a PASCAL VOC folder: {expected}")
    for lists in (year / "ImageSets" / "Segmentation", year / "ImageSets" / "Main"):
        if (lists / f"{split}.txt").is_file():
            break
    else:
        raise FileNotFoundError(f"{year}: no ImageSets split list {split}.txt; {expected}")
    ids = [line.split()[0] for line in (lists / f"{split}.txt").read_text().splitlines() if line.strip()]
    scenes = [Scene(i, i, year / "JPEGImages" / f"{i}.jpg") for i in ids]
    scenes = [s for s in scenes if s.path.is_file()]
    if not scenes:
        raise FileNotFoundError(f"{year}: none of the {len(ids)} images in {lists / f'{split}.txt'} exist "
                                f"in JPEGImages; {expected}")
    return scenes


def hashed_split(name: str, val_fraction: float) -> str:
    """``val`` for a stable ``val_fraction`` of names, ``train`` for the rest."""
    return "val" if zlib.crc32(name.encode()) % 10_000 < val_fraction * 10_000 else "train"


def folder_scenes(folder: str | os.PathLike, split: str, val_fraction: float = 0.2) -> list[Scene]:
    """The photos in a plain folder, split by file name."""
    _check_split(split)
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no photos (.jpg, .png, ...) to use as backgrounds")
    scenes = [Scene(p.stem, p.stem, p) for p in files if hashed_split(p.stem, val_fraction) == split]
    if not scenes:
        raise ValueError(f"{folder}: its {len(files)} photos leave the {split} split empty; add photos")
    return scenes


def scenes_for(backgrounds: str, split: str, val_fraction: float = 0.2) -> list[Scene]:
    """The scenes a profile's ``backgrounds`` setting names: ``embedded``, a VOCdevkit, or a folder."""
    if backgrounds == "embedded":
        return embedded_scenes(split)
    folder = paths.resolve(backgrounds)
    if is_voc(folder) or "voc" in folder.name.lower():
        return voc_scenes(folder, split)
    if not folder.exists():
        raise FileNotFoundError(f"backgrounds: {folder} does not exist (use 'embedded', a VOCdevkit, "
                                f"or a folder of photos)")
    return folder_scenes(folder, split, val_fraction)


def procedural_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random cluttered picture (size×size×3 uint8): a graded backdrop under random shapes, lines and
    texture.

    A handful of real training photos is too few scenes to learn "sneaker" rather than "not one of
    those photos". Random clutter in every colour and shape, mixed into the training scenes, leaves the
    sneakers as the only thing composites have in common (domain randomisation). Validation scenes
    stay real photographs.
    """
    low, high = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    mix = ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
    base = low[None, None, :] * (1 - mix[..., None]) + high[None, None, :] * mix[..., None]
    image = Image.fromarray(np.broadcast_to(base, (size, size, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 30))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.integers(-size // 4, size, 2)
        w, h = rng.integers(size // 20, size // 2, 2)
        kind = rng.integers(4)
        if kind == 0:
            draw.rectangle((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=colour)
        elif kind == 1:
            draw.ellipse((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=colour)
        elif kind == 2:
            points = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(points, fill=colour)
        else:
            draw.line((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=colour,
                      width=int(rng.integers(1, max(2, size // 30))))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5)))), np.float32)
    pixels += rng.normal(0, rng.uniform(0, 12), pixels.shape).astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def procedural_scenes(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` procedural scenes, each a pure function of ``(seed, index)``, drawn on every core
    (NumPy's generators and Pillow's drawing release the interpreter lock; the full profile's 1,000
    scenes take 18 s on one core)."""
    def scene(index: int) -> np.ndarray:
        return procedural_scene(np.random.default_rng(np.random.SeedSequence([seed, 7, index])), size)

    with ThreadPoolExecutor() as pool:
        return list(pool.map(scene, range(count)))
