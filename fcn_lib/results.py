"""Where a batch command's results go: one file per input, none overwriting another, and a write
that fails stopping the run with the file named.

``segment DIR DIR/sub`` may meet ``DIR/good0.jpg`` and ``DIR/sub/good0.jpg``: both must keep their
results, under names a rerun gives again. A full disk or a read-only folder is no reason to go on
through a thousand photos; what was written before it is complete (every write is atomic).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fcn_lib.images import list_images


def input_files(inputs: list[str]) -> list[Path]:
    """Files as given, folders as their images (sorted); a file named twice is listed once."""
    files, seen = [], set()
    for item in map(Path, inputs):
        for path in list_images(item) if item.is_dir() else [item]:
            if path.absolute() not in seen:
                seen.add(path.absolute())
                files.append(path)
    return files


def distinct_stems(files: list[Path], suffixes: tuple[str, ...]) -> dict[Path, str]:
    """An output name per input that no other input's outputs take: its stem, else ``stem-2``,
    ``stem-3``... in input order, so that ``a/x.jpg`` and ``b/x.jpg`` both keep their results and
    every run names them alike. Names are compared ignoring case (as macOS and Windows disks do)."""
    taken, stems = set(), {}
    for path in files:
        stem, number = path.stem, 1
        while any(f"{stem}{suffix}".casefold() in taken for suffix in suffixes):
            number += 1
            stem = f"{path.stem}-{number}"
        taken.update(f"{stem}{suffix}".casefold() for suffix in suffixes)
        stems[path] = stem
    return stems


class WriteFailed(Exception):
    """A result could not be written (disk full, no permission): the run stops, earlier results stand."""


def write_result(write: Callable[..., object], path: Path, *args) -> None:
    """``write(path, *args)``, its failure a :class:`WriteFailed` that names the file."""
    try:
        write(path, *args)
    except OSError as error:
        raise WriteFailed(f"cannot write {path}: {error.strerror or error}") from None
