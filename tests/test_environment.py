"""The two install routes (Makefile + pip, environment.yml + conda) describe one environment."""

import re

import yaml

from fcn_lib import paths

ROOT = paths.repo_root()


def _makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1).strip()


def test_environment_yml_matches_the_makefile_route():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"]
    for pin in _makefile_variable("TORCH_PINS").split():
        assert pin in pip_section
    assert f"-e .[{_makefile_variable('EXTRAS')}]" in pip_section


def test_jupyter_book_is_pinned_below_2():
    """Jupyter Book 2.x drops _config.yml and _toc.yml."""
    assert re.search(r'"jupyter-book>=1[^"]*,<2"', (ROOT / "pyproject.toml").read_text())


def test_book_config_builds_offline_without_executing():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["sphinx"]["config"]["intersphinx_mapping"] == {}


def test_every_toc_entry_exists_or_is_a_notebook_make_book_executes():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for entry in entries:
        if entry.startswith("book/executed/"):
            assert (ROOT / "notebooks" / f"{entry.rsplit('/', 1)[1]}.py").is_file(), entry
        else:
            assert (ROOT / f"{entry}.md").is_file(), entry


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
