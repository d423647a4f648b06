import pkgutil
import subprocess
import sys

import fcn_lib


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_importing_the_package_imports_nothing_heavy():
    out = _run("import sys, fcn_lib; print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_the_package_holds_no_benchmark_and_no_module_imports_one():
    modules = [m.name for m in pkgutil.iter_modules(fcn_lib.__path__)]
    assert "bench" not in modules and "benchmarks" not in modules
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module('fcn_lib.' + name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'benchmarks'))")
    assert _run(code).strip() == "[]"


def test_no_module_of_the_package_is_two_concepts():
    """shared/DESIGN.md: a module that grows past about 300 lines is two concepts."""
    from pathlib import Path

    for path in sorted(Path(fcn_lib.__path__[0]).rglob("*.py")):
        assert len(path.read_text().splitlines()) <= 300, path.name
