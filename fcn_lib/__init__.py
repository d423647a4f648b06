"""FCN Sneakers: the small package the book's notebooks share.

``import fcn_lib as fl`` is instant and has no side effects; submodules (``fl.masks``, ``fl.train``, ...)
are imported on first use, so a notebook that only masks photos never pays for importing torch.
"""

import importlib
import importlib.util
import pkgutil

__version__ = "0.1.0"


def __getattr__(name: str):
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {module.name for module in pkgutil.iter_modules(__path__)})
