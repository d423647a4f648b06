"""Write files and folders so that a crash or Ctrl-C never leaves a half-written one behind.

Everything is written beside its destination under a temporary name and renamed into place at the end;
a rename within one file system is atomic, so readers see either the old version or the new one. The
folder holding the renamed entry is synced too, so the rename itself survives a power cut. What is
written gets the permissions any new file would (``0666`` or ``0777`` less the umask), not the
private ``0600`` of a temporary file: masks and cut-outs are made to be read by others.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (threads write too)."""
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _previous(destination: Path) -> Path:
    return destination.with_name(f".{destination.name}.previous")


def recover_dir(destination: str | os.PathLike) -> Path:
    """Finish a folder replacement that a crash interrupted; returns ``destination``.

    Replacing a folder takes two renames (old aside, new in). Killed between them, the old folder
    survives under its ``.previous`` name and is put back here; killed after them, the leftover old
    copy is removed. :func:`atomic_dir` calls this first, so callers rarely need to.
    """
    destination = Path(destination)
    previous = _previous(destination)
    if previous.exists():
        if destination.exists():
            shutil.rmtree(previous)
        else:
            previous.rename(destination)
    return destination


@contextlib.contextmanager
def atomic_dir(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``destination``, on error it is removed.

    The old folder is moved aside before the new one is renamed in and deleted only afterwards, so at
    every instant one complete version exists on disk (see :func:`recover_dir`).
    """
    destination = recover_dir(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())
        previous = _previous(destination)
        if destination.exists():
            destination.rename(previous)
        try:
            staging.rename(destination)
        except BaseException:
            recover_dir(destination)  # the old folder back in place at once
            raise
        _sync_folder(destination.parent)
        if previous.exists():
            shutil.rmtree(previous)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


@contextlib.contextmanager
def atomic_file(destination: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file to write ``destination``'s new contents into; on success they are flushed
    to the disk and renamed into place, on error the temporary file is removed and the old version kept.

    Writers stream straight into it (``torch.save`` of a gigabyte checkpoint needs no copy in memory).
    A full disk raises ``OSError`` from the write or the flush, before anything is renamed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            if hasattr(os, "fchmod"):  # POSIX; elsewhere files keep the system's default
                os.fchmod(file.fileno(), 0o666 & ~_umask())
            os.fsync(file.fileno())
        os.replace(temporary, destination)
        _sync_folder(destination.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(destination: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``destination`` through a temporary file in the same folder."""
    with atomic_file(destination) as file:
        file.write(data)
    return Path(destination)
