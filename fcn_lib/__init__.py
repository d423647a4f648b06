"""FCN Sneakers: the small package the book's notebooks share.

``import fcn_lib as fl`` is instant and has no side effects; submodules (``fl.masks``, ``fl.data``, ...)
are imported on first use, so a notebook that only masks photos never pays for importing torch.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "atomic", "bench", "catalog", "cli", "compose", "config", "data", "execute", "images", "masks",
    "metrics", "paths", "scenes", "synth", "viz",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
