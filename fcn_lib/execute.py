"""Run the book's notebooks headlessly with papermill, under one profile, in order.

The notebook sources are jupytext ``py:percent`` files. Each is read in memory, given the profile's
values for the parameters its ``parameters`` cell declares (and only those, so the injected cell shows
exactly what changed), and executed. A failure names the notebook and the cell, keeps the partly
executed notebook as ``<name>.failed.ipynb`` for inspection, and never leaves a file that looks like a
finished run.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from fcn_lib import paths
from fcn_lib.atomic import atomic_write_bytes
from fcn_lib.config import load_profile

KERNEL = "python3"


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def notebook_sources() -> list[Path]:
    """The book's notebooks in reading order (``notebooks/NN_name.py``)."""
    return sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.py"))


def read_notebook(source: str | os.PathLike):
    import jupytext

    return jupytext.read(Path(source), fmt="py:percent")


def parameters_cell(notebook):
    """The cell tagged ``parameters``; every notebook must have exactly one."""
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def declared_parameters(notebook) -> dict:
    """The names and default values assigned in the parameters cell (literals only, by design)."""
    declared = {}
    for node in ast.parse(parameters_cell(notebook).source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"parameters cell line {node.lineno}: only `name = literal` lines are allowed")
        declared[node.targets[0].id] = ast.literal_eval(node.value)
    return declared


def shaped_like(declared, values):
    """``values`` cut to the shape of ``declared``: for a mapping, only the keys it declares (at every
    level), so a parameter ``stages = {"fcn32s": {"iterations": 1000}}`` receives just that entry."""
    if isinstance(declared, dict) and isinstance(values, dict):
        return {key: shaped_like(value, values[key]) for key, value in declared.items() if key in values}
    return values


def profile_parameters(notebook, profile: str) -> dict:
    """The profile's values (its file's differences on top of the defaults) for the parameters this
    notebook declares."""
    values = load_profile(profile).to_dict()
    declared = declared_parameters(notebook)
    return {name: shaped_like(default, values[name]) for name, default in declared.items() if name in values}


def run_notebook(source: str | os.PathLike, profile: str, out_dir: str | os.PathLike,
                 prepare_only: bool = False, timeout_s: int | None = 3600) -> Path:
    """Execute (or only parametrise) one notebook source into ``out_dir/<name>.ipynb``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source, out_dir = Path(source), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.ipynb"
    partial = out_dir / f"{source.stem}.partial.ipynb"
    failed = out_dir / f"{source.stem}.failed.ipynb"
    notebook = read_notebook(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    failed.unlink(missing_ok=True)
    try:
        papermill.execute_notebook(
            notebook, str(partial), parameters=profile_parameters(notebook, profile), kernel_name=KERNEL,
            prepare_only=prepare_only, cwd=str(paths.notebooks_dir()), log_output=False,
            progress_bar=False, execution_timeout=timeout_s, report_mode=False,
        )
    except PapermillExecutionError as error:
        _keep_partial(partial, failed)
        raise NotebookFailed(
            f"{source.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\n--- cell source ---\n{error.source}\n"
            f"--- the partly executed notebook: {failed}"
        ) from None
    except Exception as error:  # a timeout, a dead kernel: still name the notebook
        _keep_partial(partial, failed)
        raise NotebookFailed(f"{source.name} stopped: {type(error).__name__}: {error}") from error
    _show_parameters_once(partial)
    partial.replace(target)
    return target


def _show_parameters_once(path: Path) -> None:
    """papermill adds the values it injects as a cell after the notebook's own ``parameters`` cell;
    the book shows only the injected one, the values this run actually used."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    if not any("injected-parameters" in cell_tags for cell_tags in tags):
        return
    for cell, cell_tags in zip(notebook.cells, tags, strict=True):
        if "parameters" in cell_tags and "remove-cell" not in cell_tags:
            cell.metadata["tags"] = [*cell_tags, "remove-cell"]
    nbformat.write(notebook, path)


def record_time(out_dir: str | os.PathLike, source: str | os.PathLike, seconds: float) -> str:
    """Keep how long ``source`` took in ``out_dir/timings.json`` and say, in one line, how long it took
    and how long the notebooks after it took the last time they ran there (the remaining estimate)."""
    path, name = Path(out_dir) / "timings.json", Path(source).stem
    timings = json.loads(path.read_text()) if path.is_file() else {}
    timings[name] = round(seconds, 1)
    atomic_write_bytes(path, json.dumps(timings, indent=1).encode())
    later = [s.stem for s in notebook_sources() if s.stem > name]
    known = [timings[n] for n in later if n in timings]
    left = (f"; about {sum(known) / 60:.1f} min left, by the last run of the {len(known)} after it"
            if known else "")
    return f"{name}: {seconds:.0f} s{left}" if later else f"{name}: {seconds:.0f} s; the last notebook"


def _keep_partial(partial: Path, failed: Path) -> None:
    if partial.exists():
        partial.replace(failed)
