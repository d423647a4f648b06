"""The two install routes (Makefile + pip, environment.yml + conda) describe one environment."""

import re
import subprocess
import tomllib

import yaml

from fcn_lib import paths

ROOT = paths.repo_root()


def _makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1).strip()


# pyproject's names where conda-forge calls a package otherwise
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base"}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_installs_from_conda_forge_what_the_makefile_route_installs():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["--no-deps -e ."], "pip installs only the repository itself"
    assert "python=3.11" in conda
    for pin in _makefile_variable("TORCH_PINS").split():  # torch==2.14.1 -> pytorch=2.14.1
        name, version = pin.split("==")
        assert f"{CONDA_NAMES.get(name, name)}={version}" in conda
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in _makefile_variable("EXTRAS").split(","):
        wanted += project["optional-dependencies"][extra]
    conda_names = {_requirement_name(d) for d in conda}
    for requirement in wanted:
        name = _requirement_name(requirement)
        assert CONDA_NAMES.get(name, name) in conda_names, f"environment.yml lacks {requirement}"


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


def _venv_commands(*variables: str) -> list[str]:
    """What ``make`` would run to build .venv from nothing, with these variables set."""
    result = subprocess.run(["make", "-n", "-B", ".venv/.installed", *variables], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if "pip install" in line and "torch==" in line]


def test_cpu_machines_can_install_the_cpu_only_torch_wheels():
    (default,) = _venv_commands()
    assert "--index-url" not in default
    (cpu,) = _venv_commands("TORCH_INDEX=https://download.pytorch.org/whl/cpu")
    assert "torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu" in cpu


def test_the_full_book_fetches_its_real_data_first_and_the_cpu_book_fetches_nothing():
    def dry_run(profile):
        return subprocess.run(["make", "-n", "fetch", f"PROFILE={profile}"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout
    assert "fetch voc2012 --out data" in dry_run("full") and "fetch zappos50k --out data" in dry_run("full")
    assert "fcn-sneakers fetch" not in dry_run("cpu")
