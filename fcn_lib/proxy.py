"""How the network does on real photographs: a fixed evaluation made from real images, when there are some.

The embedded catalogue is rendered, so a network trained on it can be good at *rendered* sneakers and
still miss real ones. This module scores checkpoints on four sets made from real photographs, the way
``fcn-sneakers segment`` sees photos (any size, mirror-averaged):

``real_white``
    Real catalogue shots on white or light grey, with the robust masks of ``fcn_lib.masks`` as
    references.
``rendered_on_real``
    Rendered validation sneakers pasted onto real scenes: the scene side of the gap alone.
``real_on_real``
    Real sneakers pasted onto real scenes: what the original work's final network is for.
``small_low``
    Real sneakers pasted small and low in real scenes: the nearest thing in these images to a street
    photo of worn shoes (which no folder here holds).

The real images are a folder of product shots on white (and optionally one on grey) and a folder of
scenes: ``../shared/data`` for developers and CI, ``data/sneakers`` and ``data/scenes`` for a user.
Only photos in the validation split of a training run on those folders are used (the split follows
file names, see :func:`fcn_lib.scenes.hashed_split`), so a network trained on the same folders is not
scored on photos it trained on; the grey shots are never trained on and all count. Those photos are
split once more, by name, into a ``tune`` half (look at it while choosing settings) and a ``test``
half (report it; do not tune on it).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fcn_lib import catalog, data, paths, scenes
from fcn_lib.compose import PasteSettings
from fcn_lib.config import Profile
from fcn_lib.inference import Segmenter
from fcn_lib.metrics import SplitScores

PARTS = ("tune", "test", "all")
VAL_FRACTION = 0.2  # the cpu profile's: what a training run on the same folders holds out
SETS = {
    "real_white": "real catalogue shots on white or light grey (robust masks as references)",
    "rendered_on_real": "rendered validation sneakers pasted onto real scenes",
    "real_on_real": "real sneakers pasted onto real scenes",
    "small_low": "real sneakers pasted small and low in real scenes (the nearest to street photos here)",
}


@dataclass(frozen=True)
class RealFolders:
    """Where real images are: shots on white (what a real-data profile trains on), optionally shots on
    light grey (never trained on), and scenes."""

    white: Path
    grey: Path | None
    scenes: Path


def real_folders() -> RealFolders | None:
    """The developers' ``../shared/data``, else a user's ``data/sneakers`` and ``data/scenes``, else None."""
    shared = paths.shared_data_dir()
    if shared is not None:
        return RealFolders(shared / "sneakers_white", shared / "sneakers_grey", shared / "backgrounds")
    sneakers, scene_folder = paths.data_dir() / "sneakers", paths.data_dir() / "scenes"
    if sneakers.is_dir() and scene_folder.is_dir():
        return RealFolders(sneakers, None, scene_folder)
    return None


def half(name: str) -> str:
    """``tune`` or ``test``, fixed by the name: half of the held-out photos each."""
    return "tune" if zlib.crc32(f"proxy:{name}".encode()) % 2 == 0 else "test"


def _in_part(name: str, part: str) -> bool:
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return part == "all" or half(name) == part


def _real_items(folder: Path, part: str, held_out_only: bool) -> tuple[catalog.Catalog, list[int]]:
    shots = catalog.load_catalog(catalog.prepare_catalog(str(folder), size=224, progress=False))
    candidates = shots.split(VAL_FRACTION)[1] if held_out_only else range(len(shots))
    chosen = [int(i) for i in candidates if _in_part(Path(shots.info["items"][i]["source"]).stem, part)]
    return shots, chosen


Pairs = list[tuple[np.ndarray, np.ndarray]]


def proxy_sets(folders: RealFolders, part: str = "tune", rendered: catalog.Catalog | None = None,
               size: int = 256, count: int = 200, seed: int = 0) -> dict[str, Pairs]:
    """The evaluation sets as ``(RGB uint8 photo, bool mask)`` pairs; ``rendered``: the rendered
    catalogue whose validation sneakers make ``rendered_on_real`` (left out when None)."""
    white, white_items = _real_items(folders.white, part, held_out_only=True)
    shots = [(white.images[i], white.masks[i]) for i in white_items]
    cutouts = data.catalog_cutouts(white, white_items)
    if folders.grey is not None and folders.grey.is_dir():
        grey, grey_items = _real_items(folders.grey, part, held_out_only=False)
        shots += [(grey.images[i], grey.masks[i]) for i in grey_items]
        cutouts += data.catalog_cutouts(grey, grey_items)
    held_out = [scene for scene in scenes.folder_scenes(folders.scenes, "val", VAL_FRACTION)
                if _in_part(scene.name, part)]
    backdrops = data.load_scenes(held_out, size)
    ordinary = PasteSettings(max_sneakers=2)
    small = PasteSettings(scale=(0.1, 0.3), placement="ground", max_sneakers=2, empty=0.0)

    def composites(sneakers, settings, salt: int) -> Pairs:
        made = data.CompositeDataset(sneakers, backdrops, count, size, seed + salt, settings)
        return [made.composite(i)[:2] for i in range(count)]

    sets = {"real_white": shots}
    if rendered is not None:
        validation = rendered.split(VAL_FRACTION, seed)[1]
        sets["rendered_on_real"] = composites(data.catalog_cutouts(rendered, validation), ordinary, 1)
    sets["real_on_real"] = composites(cutouts, ordinary, 2)
    sets["small_low"] = composites(cutouts, small, 3)
    return sets


def score(segmenter: Segmenter, pairs: Pairs, batch: int = 16) -> dict:
    """Pooled sneaker IoU and boundary F of a segmenter's masks over a set."""
    scores = SplitScores()
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        for predicted, (_, truth) in zip(segmenter.masks([photo for photo, _ in chunk]), chunk, strict=True):
            scores.add(predicted, truth)
    result = scores.result()
    return {"sneaker_iou": round(result["sneaker_iou"], 4), "boundary_f": round(result["boundary_f"], 4),
            "images": result["images"]}


def report(checkpoints: list[str | os.PathLike], part: str = "tune", device: str = "auto",
           folders: RealFolders | None = None, mirror: bool = True, photo_statistics: float | None = None
           ) -> dict:
    """Every checkpoint scored on every set, as ``fcn-sneakers segment`` decides (by default
    mirror-averaged, each photo's own statistics blended in as the checkpoint's profile says)."""
    folders = folders or real_folders()
    if folders is None:
        raise FileNotFoundError("no real images: expected ../shared/data, or data/sneakers and data/scenes")
    table, sizes, shares = {}, {}, {}
    sets_by_catalog: dict[tuple[int, int, int], dict[str, Pairs]] = {}
    for path in checkpoints:
        segmenter = Segmenter.from_checkpoint(path, device, mirror, photo_statistics)
        trained = segmenter.profile if segmenter.profile.get("sneakers") == "embedded" else {}
        settings = Profile(**{k: v for k, v in trained.items()
                              if k in ("catalog_count", "catalog_size", "seed")})
        key = (settings.catalog_count, settings.catalog_size, settings.seed)
        # The book's checkpoints share one catalogue, so their sets are built once: a few seconds each.
        if key not in sets_by_catalog:
            rendered = catalog.load_catalog(catalog.prepare_catalog("embedded", *key, progress=False))
            sets_by_catalog[key] = proxy_sets(folders, part, rendered)
        sets = sets_by_catalog[key]
        table[str(path)] = {name: score(segmenter, pairs) for name, pairs in sets.items()}
        shares[str(path)] = segmenter.photo_statistics
        sizes = {name: len(pairs) for name, pairs in sets.items()}
    return {"part": part, "folders": {k: str(v) for k, v in vars(folders).items()},
            "sets": {name: {"what": SETS[name], "images": sizes.get(name, 0)} for name in SETS},
            "checkpoints": table, "mirror": mirror, "photo_statistics": shares}


HEADERS = {"real_white": "real shots on white", "rendered_on_real": "rendered on real scenes",
           "real_on_real": "real on real scenes", "small_low": "small and low (street stand-in)"}


def table(report_: dict, names: dict[str, str]) -> str:
    """A report as a Markdown table: one row per checkpoint (named by ``names``, path to label), one
    column per set, pooled sneaker IoU."""
    columns = [f"{HEADERS[name]} ({report_['sets'][name]['images']})" for name in SETS]
    rows = [[names.get(path, path), *(f"{scores[name]['sneaker_iou']:.3f}" for name in SETS)]
            for path, scores in report_["checkpoints"].items()]
    return "\n".join(["| network | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(SETS),
                      *("| " + " | ".join(row) + " |" for row in rows)])
