"""Checkpoints written on a thread while training goes on.

A full-size FCN-8s checkpoint (weights and SGD momentum) is about a gigabyte; serialising it and
flushing it to the disk takes seconds, and the seed's schedule writes one at every validation. Only
copying the tensors to host memory has to stop training, since the step after it changes them in
place; the rest is done by a thread while the GPU trains on. Writes stay atomic (``fcn_lib.atomic``),
one runs at a time, in order, and a write that fails raises in the training loop at the next
checkpoint or at the end of the stage, so no failure goes unseen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch


def host_copy(record):
    """A copy of a nested record (dicts, lists, tuples) whose tensors are fresh CPU tensors that share
    no memory with the live ones, so training can go on changing those while the copy is written."""
    if isinstance(record, torch.Tensor):
        return record.detach().to("cpu", copy=True)
    if isinstance(record, dict):
        return {key: host_copy(value) for key, value in record.items()}
    if isinstance(record, list | tuple):
        return type(record)(host_copy(value) for value in record)
    return record


class BackgroundWriter:
    """Runs one write at a time on a thread of its own.

    ``submit`` first waits for the previous write, so writes land in the order they were asked for and
    at most one snapshot waits in memory; ``wait`` returns when everything submitted is on disk, and
    re-raises the first failure of a write.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def submit(self, write: Callable[..., object], *args) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(write, *args), name="checkpoint-writer")
        self._thread.start()

    def _run(self, write: Callable[..., object], *args) -> None:
        try:
            write(*args)
        except BaseException as failure:  # handed to the training loop by wait()
            self._failure = failure

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
