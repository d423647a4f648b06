"""The book's publishing: the Pages workflow, the gallery's figures, and the link checker."""

import re

import yaml

from fcn_lib import paths
from tests.check_html import broken_links

ROOT = paths.repo_root()


def test_pages_workflow_builds_the_cpu_book_and_deploys_it():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    commands = [step.get("run", "") for step in build["steps"]]
    assert "make book" in commands
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True


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
