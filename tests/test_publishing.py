"""The book's publishing: the Pages workflow, the gallery's figures, and the link checker."""

import re
import tomllib

import yaml

from fcn_lib import paths
from tests.check_html import broken_links, external_resources

ROOT = paths.repo_root()


def test_pages_workflow_builds_the_cpu_book_and_deploys_it():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    commands = [step.get("run", "") for step in build["steps"]]
    assert any(command.startswith("make book") for command in commands)
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True


# The first majors that run on Node 24: GitHub's runners dropped Node 20 in September 2026.
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-pages-artifact": 5,
                 "actions/deploy-pages": 5}


def test_pages_workflow_uses_node24_actions_caches_pip_and_lets_a_deploy_finish():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    used = {step["uses"].split("@")[0]: step["uses"].split("@")[1] for step in steps if "uses" in step}
    assert set(used) == set(NODE24_MAJORS)
    for action, version in used.items():
        assert re.fullmatch(r"v\d+", version) and int(version[1:]) >= NODE24_MAJORS[action], action
    setup = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}


def test_every_gallery_figure_is_saved_by_a_notebook():
    gallery = (ROOT / "book" / "gallery.md").read_text()
    figures = re.findall(r":img-top: executed/figures/(\S+\.png)", gallery)
    sources = "".join(p.read_text() for p in (ROOT / "notebooks").glob("0*.py"))
    assert figures
    for figure in figures:
        assert f'"{figure}"' in sources, f"no notebook saves {figure}"


def test_link_checker_finds_missing_and_root_absolute_links(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#x">b</a><img src="img/p.png"><a href="/abs">x</a>'
                                     '<a href="https://example.org">e</a><a href="#top">t</a>')
    (tmp_path / "b.html").write_text("<p>b</p>")
    assert broken_links(tmp_path) == ["a.html: missing img/p.png", "a.html: root-absolute link /abs"]


def test_resource_checker_finds_scripts_and_stylesheets_from_the_internet(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example.org/mathjax/tex-chtml.js"></script><script src="_static/ok.js">'
        '</script><link rel="stylesheet" href="//fonts.example.org/f.css"><link rel="stylesheet" '
        'href="_static/ok.css"><a href="https://example.org">a link is fine</a>')
    assert external_resources(tmp_path) == [
        "a.html: loads https://cdn.example.org/mathjax/tex-chtml.js from the internet",
        "a.html: loads //fonts.example.org/f.css from the internet"]


def test_math_is_served_from_the_build():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in cfg["sphinx"]["extra_extensions"]


def test_citation_file_describes_this_release_and_the_book_says_how_to_cite():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    book = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["title"] == book["title"]
    assert citation["version"] == project["version"] and citation["license"] == project["license"]
    assert any(ref["title"].startswith("Fully Convolutional Networks") for ref in citation["references"])
    index = (ROOT / "book" / "index.md").read_text()
    assert "## How to cite" in index and "CITATION.cff" in index and f"Version {project['version']}" in index


def test_every_figure_the_prose_points_at_by_number_exists_in_its_notebook():
    for source in sorted((ROOT / "notebooks").glob("0*.py")):
        text = source.read_text()
        for label in re.findall(r"\{numref\}`([^`]+)`", text):
            assert f'"name": "{label}"' in text, f"{source.name}: no figure named {label}"


def test_every_chapter_says_what_it_teaches_and_needs_and_ends_with_a_summary_and_exercises():
    for source in sorted((ROOT / "notebooks").glob("0*.py")):
        text = source.read_text()
        header = text[:text.index("# %% tags=[\"parameters\"]")]
        for opening in ("**You will learn**", "**You should know:**", "**Prerequisites:**"):
            assert opening in header, f"{source.name}: no {opening} before its parameters"
        summary, exercises = text.find("\n# ## Summary\n"), text.find("\n# ## Exercises\n")
        assert 0 < summary < exercises, f"{source.name}: needs a Summary, then Exercises, at its end"
        assert "\n# %%" not in text[exercises:], f"{source.name}: code after the exercises"
