"""Repository, issue and launch buttons that lead somewhere: a Sphinx extension for the book.

The repository's address is not written into ``_config.yml``: whoever publishes the book has it.
It comes from ``BOOK_REPOSITORY_URL``, else from GitHub Actions (``GITHUB_SERVER_URL`` and
``GITHUB_REPOSITORY``), else from the checkout's ``origin`` remote; without one there are no buttons
rather than broken ones.

The chapters are built from ``book/executed/*.ipynb``, which git ignores, so the theme's own launch
links would open files that do not exist. Here the Colab button is pointed at what does: a
``.ipynb`` of the chapter that the Pages workflow publishes on the ``notebooks`` branch
(``python book/_ext/launch_links.py OUT URL`` writes them: each begins with a cell that clones the
repository and installs ``fcn_lib`` when it is missing, as it is on Colab).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BRANCH = "main"
COLAB_BRANCH = "notebooks"  # where the Pages workflow publishes the chapters as .ipynb
COLAB = "https://colab.research.google.com"
CHAPTERS = "book/executed/"  # the docnames of the executed chapters


def https_url(remote: str) -> str | None:
    """``https://github.com/OWNER/REPO`` for the usual spellings of a GitHub remote, else None."""
    match = re.fullmatch(r"(?:https://|ssh://git@|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?",
                         remote.strip())
    return f"https://github.com/{match[1]}/{match[2]}" if match else None


def repository_url(environ=os.environ, root: Path | None = None) -> str | None:
    """Where the book's repository lives, from the environment or the checkout (see the module doc)."""
    if environ.get("BOOK_REPOSITORY_URL"):
        return https_url(environ["BOOK_REPOSITORY_URL"])
    if environ.get("GITHUB_REPOSITORY"):
        return https_url(f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{environ['GITHUB_REPOSITORY']}")
    try:
        remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return https_url(remote)


def launch_urls(repository: str, docname: str) -> dict[str, str]:
    """The launch addresses of an executed chapter (docname ``book/executed/NAME``), by button."""
    owner, name = repository.rstrip("/").rsplit("/", 2)[-2:]
    chapter = docname.removeprefix(CHAPTERS)
    return {"Colab": f"{COLAB}/github/{owner}/{name}/blob/{COLAB_BRANCH}/{chapter}.ipynb"}


def _configure(app, config) -> None:
    repository = repository_url(root=Path(app.srcdir))
    if repository is None:
        return
    config.html_theme_options.update(
        repository_url=repository, repository_branch=BRANCH, use_repository_button=True,
        use_issues_button=True,
        launch_buttons={"notebook_interface": "jupyterlab", "colab_url": COLAB})


def _point_launches_at_sources(app, pagename, templatename, context, doctree) -> None:
    repository = app.config.html_theme_options.get("repository_url")
    if not repository or not pagename.startswith(CHAPTERS):
        return
    urls = launch_urls(repository, pagename)
    for button in context.get("header_buttons", []):
        for entry in button.get("buttons", []):
            if entry.get("text") in urls:
                entry["url"] = urls[entry["text"]]


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _point_launches_at_sources, priority=600)  # after the theme's 501
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def install_cell(repository: str) -> str:
    """The first code cell of a published chapter: clone and install the book where it is missing."""
    checkout = repository.rstrip("/").rsplit("/", 1)[-1]
    return (
        "# On Colab (or anywhere the book is not installed): clone it, install fcn_lib, and run from its\n"
        "# notebooks folder, where the profiles live. A checkout with fcn_lib installed skips this.\n"
        "import importlib.util, os, subprocess, sys\n"
        "if importlib.util.find_spec('fcn_lib') is None:\n"
        f"    subprocess.run(['git', 'clone', '--depth', '1', '{repository}'], check=True)\n"
        "    # fcn_lib, and myst-nb for the glue() that hands numbers to the book's text\n"
        f"    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '-e', '{checkout}', 'myst-nb'],\n"
        "                   check=True)\n"
        f"    os.chdir(os.path.join('{checkout}', 'notebooks'))\n"
        f"    sys.path.insert(0, os.path.abspath('..'))"
    )


def write_launch_notebooks(sources: list[Path], out: Path, repository: str) -> list[Path]:
    """Each ``py:percent`` chapter as ``out/NAME.ipynb``, its first cell :func:`install_cell`."""
    import jupytext
    from nbformat.v4 import new_code_cell

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        notebook = jupytext.read(source)
        notebook.cells.insert(0, new_code_cell(install_cell(repository), metadata={"tags": ["launch"]}))
        target = out / f"{source.stem}.ipynb"
        jupytext.write(notebook, target, fmt="ipynb")
        written.append(target)
    return written


if __name__ == "__main__":  # python book/_ext/launch_links.py OUT REPOSITORY_URL
    root = Path(__file__).resolve().parents[2]
    chapters = sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))
    for path in write_launch_notebooks(chapters, Path(sys.argv[1]), https_url(sys.argv[2]) or sys.argv[2]):
        print(path)
