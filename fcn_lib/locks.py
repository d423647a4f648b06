"""One training run per stage and profile at a time.

Two ``train`` processes writing the same checkpoint would each resume from, and overwrite, the other's
work. A run holds an exclusive lock on ``.<checkpoint>.lock`` beside it (``flock``: the kernel drops
it when the process dies, however it dies, so a crash never leaves a stale lock) and a second run is
refused with a message naming the process that holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class RunInProgress(RuntimeError):
    """Another process is training the same stage of the same profile."""


@contextlib.contextmanager
def exclusive(target: str | os.PathLike) -> Iterator[Path]:
    """Hold ``target``'s lock for the ``with`` block, or raise :class:`RunInProgress` at once."""
    target = Path(target)
    lock = target.with_name(f".{target.name}.lock")  # hidden: it stays, and need not clutter listings
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunInProgress(f"{target}: another run (pid {holder}) is training it; wait for that run "
                                "to finish or stop it, then start again (--resume continues it)") from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        yield lock
    finally:
        os.close(handle)  # closing releases the lock; the file stays (deleting it would race a waiter)
