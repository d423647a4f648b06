"""Check that a built book opens from disk: every local link and image resolves, none is root-absolute,
and no page loads a script or a stylesheet from the internet (offline, MathJax would show raw TeX).

Run by `make test` on the smoke build: python tests/check_html.py build/smoke/_build/html [--repository URL]
With ``--repository`` (the address the build was given), every executed chapter must also carry the
repository and issue buttons and launch links of the form ``book/_ext/launch_links.py`` makes.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.loaded: list[str] = []  # scripts and stylesheets the page loads

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "script" and attrs.get("src"):
            self.loaded.append(attrs["src"])
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "").split() and attrs.get("href"):
            self.loaded.append(attrs["href"])


def _read(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def pages(root: Path) -> list[Path]:
    """The book's pages (the theme's template snippets under ``_static`` are not pages)."""
    return sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)


def broken_links(root: Path) -> list[str]:
    """``page: link`` for every local link that does not resolve to a file under ``root``."""
    problems = []
    for page in pages(root):
        for link in _read(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("#", "mailto:", "data:", "javascript:")):
                continue
            if link.startswith("/"):
                problems.append(f"{page.relative_to(root)}: root-absolute link {link}")
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if parts.path and not target.exists():
                problems.append(f"{page.relative_to(root)}: missing {link}")
    return problems


def external_resources(root: Path) -> list[str]:
    """``page: URL`` for every script or stylesheet a page loads from another host."""
    problems = []
    for page in pages(root):
        for link in _read(page).loaded:
            if urlsplit(link).scheme or link.startswith("//"):
                problems.append(f"{page.relative_to(root)}: loads {link} from the internet")
    return problems


def missing_buttons(root: Path, repository: str) -> list[str]:
    """``page: link`` for every repository, issue or launch link an executed chapter lacks."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
    from launch_links import CHAPTERS, launch_urls

    problems = []
    chapters = sorted((root / CHAPTERS).glob("*.html"))
    for page in chapters:
        parser = _read(page)
        docname = f"{CHAPTERS}{page.stem}"
        wanted = [repository, f"{repository}/issues/new?", *launch_urls(repository, docname).values()]
        problems += [f"{page.relative_to(root)}: no link to {url}" for url in wanted
                     if not any(link.startswith(url) for link in parser.links)]
    return problems if chapters else [f"{root}: no executed chapters under {CHAPTERS}"]


if __name__ == "__main__":
    root = Path(sys.argv[1])
    problems = broken_links(root) + external_resources(root)
    if "--repository" in sys.argv:
        problems += missing_buttons(root, sys.argv[sys.argv.index("--repository") + 1])
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(pages(root))} pages checked, {len(problems)} broken local links or external resources")
    sys.exit(1 if problems or not root.is_dir() else 0)
