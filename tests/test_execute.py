"""The notebook runner, and the invariants every notebook source keeps."""

import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from fcn_lib import config, execute, paths

SOURCES = execute.notebook_sources()
DEFAULTS = config.Profile().to_dict()  # the cpu profile


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_parameters_cell_holds_the_cpu_profile(source):
    declared = execute.declared_parameters(execute.read_notebook(source))
    assert declared.get("profile") == "cpu", "every notebook declares `profile` (it names its artefacts)"
    for name, value in declared.items():
        assert name in DEFAULTS, f"{source.name}: parameter {name!r} is not a profile setting"
        expected = execute.shaped_like(value, DEFAULTS[name])
        assert value == expected, f"{source.name}: {name} = {value!r}, the defaults say {expected!r}"


def test_a_notebook_receives_its_profiles_values_in_the_shape_it_declares():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'profile = "cpu"\nimage_size = 128\nschedules = {"fcn32s": {"iterations": 1000}}',
        metadata={"tags": ["parameters"]})])
    assert execute.profile_parameters(notebook, "smoke") == {
        "profile": "smoke", "image_size": 64, "schedules": {"fcn32s": {"iterations": 4}}}


def test_jupytext_sync_changes_no_source(tmp_path):
    """The .py sources are in the exact form jupytext writes, so pairing them produces no diff."""
    if not SOURCES:
        pytest.skip("no notebooks yet")
    copies = [shutil.copy(source, tmp_path / source.name) for source in SOURCES]
    shutil.copy(paths.repo_root() / "jupytext.toml", tmp_path)
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", *map(str, copies)],
                   check=True, cwd=tmp_path)
    for source in SOURCES:
        assert _without_writer(tmp_path / source.name) == _without_writer(source), source.name


def _without_writer(path):
    """A source's text without the header line naming the jupytext release that wrote it: a newer
    release rewrites that line and nothing else."""
    return re.sub(r"^#   +jupytext_version: .*\n", "", path.read_text(), flags=re.MULTILINE)


def _write_source(path, body: str):
    path.write_text("# %% tags=[\"parameters\"]\nseed = 1\n\n# %%\n" + body + "\n")
    return path


def test_runner_injects_only_declared_parameters(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 5\nimage_size: 7\n")
    source = _write_source(tmp_path / "01_ok.py", "print('seed is', seed)")
    target = execute.run_notebook(source, str(profile), tmp_path / "out")
    notebook = nbformat.read(target, as_version=4)
    injected = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "seed = 5" in injected.source and "image_size" not in injected.source
    assert "seed is 5" in notebook.cells[-1].outputs[0]["text"]
    defaults = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assert "remove-cell" in defaults.metadata["tags"]  # the book shows the values once, as used
    assert "remove-cell" not in injected.metadata["tags"]


def test_a_failing_cell_is_named_and_no_finished_notebook_is_left(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 0\n")
    source = _write_source(tmp_path / "02_bad.py", "y = 1 / seed")
    with pytest.raises(execute.NotebookFailed, match=r"02_bad\.py failed in cell .*ZeroDivisionError"):
        execute.run_notebook(source, str(profile), tmp_path / "out")
    assert not (tmp_path / "out" / "02_bad.ipynb").exists()
    assert (tmp_path / "out" / "02_bad.failed.ipynb").exists()


def test_parameters_cell_must_be_plain_literals(tmp_path):
    source = tmp_path / "03_x.py"
    source.write_text("# %% tags=[\"parameters\"]\nimport os\n")
    with pytest.raises(ValueError, match="name = literal"):
        execute.declared_parameters(execute.read_notebook(source))


def test_each_notebook_reports_its_time_and_the_time_still_to_come(tmp_path):
    first, *_, last = SOURCES
    fresh = execute.record_time(tmp_path, first, 12.0)
    assert fresh == f"{first.stem}: 12 s"  # nothing known yet about the notebooks after it
    for source, seconds in zip(SOURCES[1:], range(60, 60 * len(SOURCES), 60), strict=False):
        execute.record_time(tmp_path, source, seconds)
    known = sum(range(60, 60 * len(SOURCES), 60)) / 60
    after = len(SOURCES) - 1
    expected = f"{first.stem}: 10 s; about {known:.1f} min left, by the last run of the {after} after it"
    assert execute.record_time(tmp_path, first, 10.0) == expected
    assert execute.record_time(tmp_path, last, 5.0).endswith("the last notebook")
