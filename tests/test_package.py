import subprocess
import sys

import fcn_lib


def test_every_submodule_is_reachable_from_the_package():
    import pkgutil

    names = {m.name for m in pkgutil.iter_modules(fcn_lib.__path__) if not m.name.startswith("_")}
    assert {"models", "train", "masks", "data"} <= names <= set(dir(fcn_lib))
    assert all(getattr(fcn_lib, name).__name__ == f"fcn_lib.{name}" for name in names)


def test_importing_the_package_imports_nothing_heavy():
    code = "import sys, fcn_lib; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
