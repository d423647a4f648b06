"""Where things live: the repository root and its artifact, data and figure folders.

Notebooks run from many working directories (JupyterLab opens them in ``notebooks/``, papermill and
nbval run them wherever they are told, pytest runs from the root), so no path in the project may depend
on the current directory. Every folder is derived from :func:`repo_root`, which is found the same way
from anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

ROOT_ENV = "FCN_SNEAKERS_ROOT"
CACHE_ENV = "FCN_SNEAKERS_CACHE"
ARTIFACTS_ENV = "FCN_SNEAKERS_ARTIFACTS"
_MARKERS = ("_config.yml", "notebooks")


def _is_repo_root(path: Path) -> bool:
    return all((path / marker).exists() for marker in _MARKERS)


def repo_root() -> Path:
    """Return the checkout this package belongs to.

    Order: the ``FCN_SNEAKERS_ROOT`` environment variable; the folder above the package (an editable
    or source install, the normal case); then the current directory and its parents (a package installed
    into site-packages but used from inside a checkout).
    """
    override = os.environ.get(ROOT_ENV)
    if override:
        root = Path(override).expanduser().resolve()
        if not _is_repo_root(root):
            raise FileNotFoundError(f"{ROOT_ENV}={override} is not an FCN Sneakers checkout "
                                    f"(expected {' and '.join(_MARKERS)} inside it)")
        return root
    package_parent = Path(__file__).resolve().parents[1]
    if _is_repo_root(package_parent):
        return package_parent
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if _is_repo_root(candidate):
            return candidate
    raise FileNotFoundError(
        "cannot find the FCN Sneakers checkout: install the package with `pip install -e .` from it, "
        f"run from inside it, or set {ROOT_ENV}"
    )


def profiles_dir() -> Path:
    """The papermill parameter files (``smoke.yaml``, ``cpu.yaml``, ``full.yaml``)."""
    return repo_root() / "notebooks" / "profiles"


def notebooks_dir() -> Path:
    """The jupytext ``py:percent`` sources of the book's notebooks."""
    return repo_root() / "notebooks"


def data_dir() -> Path:
    """Real data (``data/sneakers``, ``data/VOCdevkit``) and generated caches (``data/cache``)."""
    return repo_root() / "data"


def cache_dir() -> Path:
    """Rendered and decoded data that reruns reuse; safe to delete. ``FCN_SNEAKERS_CACHE`` moves it
    (to a faster disk, or to a scratch folder in tests)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else data_dir() / "cache"


def resolve(setting: str | os.PathLike) -> Path:
    """A path from a profile setting: absolute, or relative to the repository root (never to the
    working directory, which differs between JupyterLab, papermill and pytest)."""
    path = Path(setting).expanduser()
    return path if path.is_absolute() else repo_root() / path


def file_listing(files: Iterable[Path]) -> list[tuple[str, int, int]]:
    """Each file's path, size and modification time: what decides whether a cache made from the
    files is still theirs."""
    return [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]


def cache_entry(kind: str, description) -> Path:
    """The cache folder for something made from ``description`` (any JSON-able value): named by a hash
    of it, so the same inputs find the same folder and changed inputs make a new one."""
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{kind}-{digest}"


def artifacts_dir(profile: str) -> Path:
    """Checkpoints, metrics, histories and figures of one profile, kept apart from other profiles.
    ``FCN_SNEAKERS_ARTIFACTS`` moves them (to a larger disk, or to a scratch folder in tests)."""
    override = os.environ.get(ARTIFACTS_ENV)
    return (Path(override).expanduser() if override else repo_root() / "artifacts") / profile


def figures_dir(profile: str) -> Path:
    """Figures the notebooks save for the gallery and README."""
    return artifacts_dir(profile) / "figures"


def executed_dir(profile: str) -> Path:
    """Notebooks executed by papermill under one profile, before the book publishes them."""
    return artifacts_dir(profile) / "executed"


def shared_data_dir() -> Path | None:
    """The developers' real images beside the checkout (``../shared/data``), or None on users' machines."""
    candidate = repo_root().parent / "shared" / "data"
    return candidate if candidate.is_dir() else None
