"""The book's repository, issue and Colab buttons (book/_ext/launch_links.py)."""

import importlib.util
import json
import subprocess
import sys

import jupytext
import pytest
import yaml

from fcn_lib import paths

ROOT = paths.repo_root()
spec = importlib.util.spec_from_file_location("launch_links", ROOT / "book" / "_ext" / "launch_links.py")
launch_links = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch_links)


@pytest.mark.parametrize("remote", ["https://github.com/o/fcn-sneakers", "https://github.com/o/fcn-sneakers.git",
                                    "git@github.com:o/fcn-sneakers.git", "ssh://git@github.com/o/fcn-sneakers"])
def test_every_spelling_of_a_github_remote_gives_its_address(remote):
    assert launch_links.https_url(remote + "\n") == "https://github.com/o/fcn-sneakers"


def test_the_address_comes_from_the_environment_then_github_actions_then_git(tmp_path):
    assert launch_links.repository_url({"BOOK_REPOSITORY_URL": "git@github.com:a/b.git",
                                        "GITHUB_REPOSITORY": "c/d"}) == "https://github.com/a/b"
    assert launch_links.repository_url({"GITHUB_REPOSITORY": "c/d"}) == "https://github.com/c/d"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert launch_links.repository_url({}, tmp_path) is None  # no remote: no buttons, not broken ones
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:e/f.git"],
                   check=True)
    assert launch_links.repository_url({}, tmp_path) == "https://github.com/e/f"


def test_colab_opens_the_chapter_published_on_the_notebooks_branch():
    urls = launch_links.launch_urls("https://github.com/o/r", "book/executed/03_fcn32s")
    assert urls == {"Colab": "https://colab.research.google.com/github/o/r/blob/notebooks/03_fcn32s.ipynb"}


def test_the_buttons_on_a_chapter_page_are_rewritten_and_others_left_alone():
    class App:
        class config:
            html_theme_options = {"repository_url": "https://github.com/o/r"}

    def page(name):
        context = {"header_buttons": [{"buttons": [{"text": "Colab", "url": "theme's"},
                                                   {"text": ".ipynb", "url": "download"}]}]}
        launch_links._point_launches_at_sources(App, name, "page.html", context, None)
        return [entry["url"] for entry in context["header_buttons"][0]["buttons"]]

    assert page("book/executed/06_backgrounds") == [
        "https://colab.research.google.com/github/o/r/blob/notebooks/06_backgrounds.ipynb", "download"]
    assert page("book/setup") == ["theme's", "download"]


def test_published_chapters_install_the_book_first_and_are_otherwise_the_sources(tmp_path):
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    written = launch_links.write_launch_notebooks(sources, tmp_path, "https://github.com/o/fcn-sneakers")
    assert [p.name for p in written] == [f"{s.stem}.ipynb" for s in sources]
    for source, target in zip(sources, written, strict=True):
        cells = json.loads(target.read_text())["cells"]
        first = "".join(cells[0]["source"])
        assert "git', 'clone', '--depth', '1', 'https://github.com/o/fcn-sneakers'" in first
        assert [c["source"] for c in jupytext.read(target).cells[1:]] == [
            c["source"] for c in jupytext.read(source).cells]


def test_the_install_cell_does_nothing_where_fcn_lib_is_installed():
    code = launch_links.install_cell("https://github.com/o/unreachable") + "\nprint('skipped')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    assert result.stdout.strip() == "skipped"


def test_the_book_loads_the_extension_and_the_workflow_publishes_the_branch():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"] == {"launch_links": "book/_ext"}
    assert config["repository"]["branch"] == "main"
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    job = workflow["jobs"]["notebooks"]
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert job["permissions"] == {"contents": "write"} and "book/_ext/launch_links.py _launch" in script
    assert f"--initial-branch {launch_links.COLAB_BRANCH}" in script
