"""Real data by one command: PASCAL VOC 2012 scenes and UT-Zappos50K's sneaker photos into ``data/``.

The `full` profile is the reproduction, and the original work trained on real product photos pasted
onto VOC scenes. ``fcn-sneakers fetch NAME --out data/`` downloads an archive (resuming a partial
download where it stopped), checks it, unpacks it safely and lays it out as the profiles expect. When
the machine is offline the error says which file to download by hand and where to put it; the next
run then finds it and goes on from there. Nothing in the book's default run or in the tests downloads
anything: the tests serve stand-in archives from a local server.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class FetchFailed(RuntimeError):
    """A download or an archive that could not be used; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    """One public archive, where it lands, and the terms it comes under."""

    url: str
    filename: str
    md5: str | None  # None: the archive's own CRCs are the check (zip), see `check`
    licence: str
    made: str  # the folder under --out that a finished fetch leaves (its presence means done)


def _voc2012() -> Dataset:
    from torchvision.datasets.voc import DATASET_YEAR_DICT  # torchvision's own URL and checksum

    source = DATASET_YEAR_DICT["2012"]
    return Dataset(source["url"], source["filename"], source["md5"],
                   "PASCAL VOC 2012 (Everingham et al.): the images come from flickr under their owners' "
                   "terms; use them for research, see http://host.robots.ox.ac.uk/pascal/VOC/", "VOCdevkit")


def _zappos50k() -> Dataset:
    # The authors publish no checksum; the zip's per-file CRCs catch a damaged or cut download.
    site = "https://vision.cs.utexas.edu/projects/finegrained/utzap50k/"
    return Dataset(f"{site}ut-zap50k-images-square.zip", "ut-zap50k-images-square.zip", None,
                   "UT-Zappos50K (Yu and Grauman, CVPR 2014): for academic, non-commercial use only; cite "
                   "the authors, see https://vision.cs.utexas.edu/projects/finegrained/utzap50k/", "sneakers")


DATASETS = {"voc2012": _voc2012, "zappos50k": _zappos50k}
# Where UT-Zappos50K keeps the category the original work used.
ZAPPOS_SNEAKERS = ("Shoes", "Sneakers and Athletic Shoes")


def dataset(name: str, url: str | None = None, md5: str | None = None) -> Dataset:
    """The named dataset, optionally from a mirror ``url`` (and that mirror's ``md5``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    found = DATASETS[name]()
    if url is None:
        return found
    return Dataset(url, found.filename, md5 if md5 is not None else found.md5, found.licence, found.made)


def download(source: Dataset, folder: Path, progress: bool = True) -> Path:
    """``folder/<filename>``, downloaded unless it is there; a cut download resumes from its ``.part``."""
    from tqdm import tqdm

    final, part = folder / source.filename, folder / f"{source.filename}.part"
    if final.is_file():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    have, total = (part.stat().st_size if part.exists() else 0), None
    request = urllib.request.Request(source.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if have and response.status != 206:  # the server ignored the range: start again
                have = 0
            total = have + int(response.headers.get("Content-Length") or 0) or None
            with open(part, "ab" if have else "wb") as file, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=source.filename,
                    disable=not progress) as bar:
                while chunk := response.read(CHUNK):
                    file.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the part is the whole file
            pass
        else:
            raise FetchFailed(f"{source.url}: the server answered {error.code} {error.reason}") from None
    except http.client.IncompleteRead:  # the server closed the connection early; the size check says so
        pass
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchFailed(
            f"cannot download {source.url} ({reason}). What arrived is kept in {part} and the next run "
            f"continues it; offline, download that URL by hand and put the file at {final}") from None
    if total is not None and part.stat().st_size < total:  # kept: the next run asks for the rest
        raise FetchFailed(f"{source.url}: the download stopped at {part.stat().st_size:,} of {total:,} "
                          f"bytes; run the command again to continue it (kept in {part})")
    part.replace(final)
    return final


def check(source: Dataset, archive: Path) -> None:
    """The archive's MD5 against the published one; a zip without one is checked by its CRCs."""
    if source.md5 is not None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(archive, "rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != source.md5:
            archive.unlink()
            raise FetchFailed(f"{archive}: MD5 {digest.hexdigest()}, expected {source.md5}; the file was "
                              "damaged or is not the published one, so it was deleted: run the command again")
        return
    try:
        with zipfile.ZipFile(archive) as packed:
            damaged = packed.testzip()
    except zipfile.BadZipFile:
        damaged = "the archive itself"
    if damaged is not None:
        archive.unlink()
        raise FetchFailed(f"{archive}: {damaged} is damaged (CRC mismatch), so the file was deleted: run the "
                          "command again")


def unpack(archive: Path, into: Path) -> None:
    """Unpack a tar or zip under ``into``, refusing members that would land outside it."""
    into.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as packed:
            for member in packed.namelist():
                if not (into / member).resolve().is_relative_to(into.resolve()):
                    raise FetchFailed(f"{archive}: member {member!r} would land outside {into}")
            packed.extractall(into)
        return
    with tarfile.open(archive) as packed:
        packed.extractall(into, filter="data")  # the "data" filter refuses links and paths out of `into`


def _lay_out_zappos(unpacked: Path, out: Path) -> int:
    """UT-Zappos50K's sneakers, flattened into ``out/sneakers`` as ``<brand>_<name>.jpg``."""
    roots = [folder for folder in unpacked.rglob(ZAPPOS_SNEAKERS[1])
             if folder.is_dir() and folder.parent.name == ZAPPOS_SNEAKERS[0]]
    if not roots:
        raise FetchFailed(f"{unpacked}: no {'/'.join(ZAPPOS_SNEAKERS)} folder; is this UT-Zappos50K?")
    staging = out / ".sneakers.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    count = 0
    for photo in sorted(roots[0].rglob("*.jpg")):
        brand = photo.relative_to(roots[0]).parts[0]
        os.replace(photo, staging / f"{brand.replace(' ', '_')}_{photo.name}")
        count += 1
    os.replace(staging, out / "sneakers")
    return count


def fetch(name: str, out: str | os.PathLike = "data", url: str | None = None, md5: str | None = None,
          progress: bool = True, say=print) -> Path:
    """Download, check, unpack and lay out dataset ``name`` under ``out``; returns the folder it made.

    Rerunning a finished fetch does nothing; an interrupted one continues where it stopped."""
    source, out = dataset(name, url, md5), Path(out)
    made = out / source.made
    if made.exists():
        say(f"{made} is already there; delete it to fetch {name} again")
        return made
    say(f"licence: {source.licence}")
    downloads = out / ".downloads"
    archive = download(source, downloads, progress)
    check(source, archive)
    unpacked = downloads / f"{name}.unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    unpack(archive, unpacked)
    if name == "zappos50k":
        say(f"{_lay_out_zappos(unpacked, out):,} sneaker photos in {made}")
    else:
        found = unpacked / "VOCdevkit"
        if not (found / "VOC2012" / "JPEGImages").is_dir():
            raise FetchFailed(f"{archive}: no VOCdevkit/VOC2012/JPEGImages inside; is this PASCAL VOC 2012?")
        os.replace(found, made)
        say(f"PASCAL VOC 2012 in {made}")
    shutil.rmtree(unpacked, ignore_errors=True)
    archive.unlink()
    return made
