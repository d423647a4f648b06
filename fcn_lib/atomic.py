"""Write files and folders so that a crash or Ctrl-C never leaves a half-written one behind.

Everything is written beside its destination under a temporary name and renamed into place at the end;
a rename within one file system is atomic, so readers see either the old version or the new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_dir(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``destination``, on error it is removed."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


@contextlib.contextmanager
def atomic_file(destination: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file to write ``destination``'s new contents into; on success they are flushed
    to the disk and renamed into place, on error the temporary file is removed and the old version kept.

    Writers stream straight into it (``torch.save`` of a gigabyte checkpoint needs no copy in memory).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(destination: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``destination`` through a temporary file in the same folder."""
    with atomic_file(destination) as file:
        file.write(data)
    return Path(destination)
