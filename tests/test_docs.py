"""The documentation: the site builds in strict mode, the API reference covers every public
name, and every ```python block of the README and of docs/ runs as written.

The site is built once per session (``mkdocs build --strict``, about 15 s of one core) from
a copy of the project's docs (mkdocs.yml, docs/, notebooks/ and a link to src/), so that the
test can add a tiny notebook and check that the notebooks section renders it. Strict mode
fails the build on a broken link or anchor, a page missing from the navigation, and a
docstring that griffe or autorefs cannot render.

The Python blocks of one page run in one fresh process, in order, in a folder of their own
beside ``../shared/data`` (as the repository sits beside it), so their ``runs/`` go to a
temporary folder; a page whose code reads ``../shared/data`` skips when that is absent.
Blocks that cannot run in seconds on bundled data (the full IMDB, torchrun, a server) are
fenced as ``bash`` or ``text`` instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from test_public_api import _public_modules  # every public module, one definition

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
PAGES = [p for p in PAGES if "notebooks" not in p.relative_to(REPO).parts[:2]]
SRC = REPO / "src"


PUBLIC_PACKAGES = [m for m in _public_modules() if m.count(".") <= 1 and (
    SRC / m.replace(".", "/") / "__init__.py").is_file()]  # fmt: skip
TINY_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A tiny notebook\n"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [
                {
                    "data": {"text/plain": ["array([[0, 1, 2],\n", "       [0, 0, 3]])"]},
                    "execution_count": 1,
                    "metadata": {},
                    "output_type": "execute_result",
                }
            ],
            "source": ["sl.text.pad_sequences([[1, 2], [3]], maxlen=3)"],
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


def _page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rst_docstrings", DOCS / "_ext/rst_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- docstrings as Markdown


def test_docs_extension_fences_examples_whose_output_looks_like_a_link():
    # "[[2, 3], [0, 4]]" outside a code block is a Markdown reference link: the build failed.
    text = "Pads.\n\n>>> pad([[1, 2, 3], [4]], maxlen=2).tolist()\n[[2, 3], [0, 4]]\n\nAfter."
    assert _extension().to_markdown(text).splitlines() == [
        "Pads.",
        "",
        "```pycon",
        ">>> pad([[1, 2, 3], [4]], maxlen=2).tolist()",
        "[[2, 3], [0, 4]]",
        "```",
        "",
        "After.",
    ]


def test_docs_extension_turns_a_literal_block_into_a_fence_at_its_indentation():
    text = "* the window of the\n  last inputs::\n\n      u (T, D) --> (N, lags, D)\n\n* next"
    assert _extension().to_markdown(text).splitlines() == [
        "* the window of the",
        "  last inputs:",
        "",
        "  ```text",
        "  u (T, D) --> (N, lags, D)",
        "  ```",
        "",
        "* next",
    ]


def test_docs_extension_keeps_click_verbatim_paragraphs_verbatim():
    text = "Train a classifier.\n\n\b\nseqlab classify train --data imdb\nseqlab classify predict RUN\n"
    assert _extension().to_markdown(text).splitlines() == [
        "Train a classifier.",
        "",
        "```text",
        "seqlab classify train --data imdb",
        "seqlab classify predict RUN",
        "```",
    ]


def test_docs_extension_nests_a_list_indented_by_two_spaces():
    text = "* bag modes:\n\n  - ``count``: occurrences\n    of the term;\n  - ``freq``"
    assert _extension().to_markdown(text).splitlines() == [
        "* bag modes:",
        "",
        "    - ``count``: occurrences",
        "    of the term;",
        "    - ``freq``",
    ]


def test_docs_extension_links_roles_it_resolves_and_shows_the_others_as_code():
    resolve = {"Vocabulary": "seqlab.text.vocab.Vocabulary"}.get
    text = "See :class:`Vocabulary`, :func:`~seqlab.text.missing`, :meth:`.fit`."
    assert _extension().to_markdown(text, resolve) == (
        'See <autoref identifier="seqlab.text.vocab.Vocabulary" optional>'
        "<code>Vocabulary</code></autoref>, <code>missing</code>, <code>fit</code>."
    )


# ---------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built in strict mode from a copy of the docs, with a tiny notebook added."""
    project = tmp_path_factory.mktemp("docs-project")
    for name in ("mkdocs.yml", "ARCHITECTURE.md", "CHANGELOG.md"):
        shutil.copy(REPO / name, project / name)
    skip = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(DOCS, project / "docs", symlinks=True, ignore=skip)
    shutil.copytree(REPO / "notebooks", project / "notebooks", ignore=skip)
    (project / "notebooks" / "zz-tiny.ipynb").write_text(json.dumps(TINY_NOTEBOOK))
    (project / "src").symlink_to(REPO / "src")
    out = project / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return out


def _html(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def test_docs_build_has_every_page(site: Path):
    pages = ["", "guides/text", "guides/embeddings", "guides/classifiers"]
    pages += ["guides/language-models", "guides/series", "guides/serving"]
    pages += ["guides/scaling-out", "benchmarks", "architecture", "changelog", "notebooks"]
    pages += ["reference", "reference/seqlab", "reference/text", "reference/series"]
    missing = [p for p in pages if not (site / p / "index.html").is_file()]
    assert not missing
    assert "One page on how the package is put together" in _html(site, "architecture")
    assert "First version." in _html(site, "changelog")


def test_docs_reference_renders_docstrings_and_their_examples(site: Path):
    text = _html(site, "reference/text")
    assert 'id="seqlab.text.TextVectorizer"' in text
    # TextVectorizer's example, its output in a highlighted code block (not a broken link)
    assert "get_feature_names_out" in text
    assert re.search(r"<code>.*&gt;&gt;&gt;.*TextVectorizer", text, re.S)
    # a :class: role became a link to the object's anchor on the same page
    assert re.search(r'<a class="autorefs[^"]*"[^>]*href="#seqlab\.text\.NotFittedError"', text)
    # special methods are left out; __init__'s docstring is merged into the class
    assert 'id="seqlab.text.Vocabulary.__repr__"' not in text
    assert not re.search(r":(class|func|meth|mod):`", text)


def test_docs_reference_has_an_anchor_for_every_public_name(site: Path):
    ids: set[str] = set()
    for page in (site / "reference").rglob("index.html"):
        ids |= set(re.findall(r'id="(seqlab[^"]*)"', page.read_text(encoding="utf-8")))
    assert {"seqlab", "seqlab.text", "seqlab.series", "seqlab.serve"} <= set(PUBLIC_PACKAGES)
    missing = []
    for package in PUBLIC_PACKAGES:
        for name in importlib.import_module(package).__all__:
            if f"{package}.{name}" not in ids:
                missing.append(f"{package}.{name}")
    assert not missing, f"public names without a reference entry: {missing}"
    # every public module has its section (its docstring, and what no package exports)
    assert [m for m in _public_modules() if m not in ids] == []
    # names a package loads lazily (griffe cannot see them) are there too
    assert {"seqlab.fit", "seqlab.load", "seqlab.series.NeuralForecaster"} <= ids


def test_docs_notebooks_are_rendered_and_listed_in_the_nav(site: Path):
    page = _html(site, "notebooks/zz-tiny")
    assert "A tiny notebook" in page and "pad_sequences" in page
    assert 'href="notebooks/zz-tiny/"' in _html(site, "")


def test_docs_readme_links_point_at_files_that_exist():
    links = re.findall(r"\]\(([^)#]+)\)", (REPO / "README.md").read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    assert [link for link in local if not (REPO / link).is_file()] == []


# ---------------------------------------------------------------- the examples


def test_docs_python_blocks_compile():
    pages = [p for p in PAGES if _python_blocks(p)]
    assert {_page_id(p) for p in pages} >= {"README.md", "docs/index.md", "docs/guides/text.md"}
    for page in pages:
        compile("\n".join(_python_blocks(page)), _page_id(page), "exec")


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)], ids=_page_id)
def test_docs_python_blocks_run(page: Path, tmp_path: Path) -> None:
    code = "\n".join(_python_blocks(page))
    shared = (REPO.parent / "shared" / "data").resolve()
    if "../shared/data" in code:
        if not shared.is_dir():
            pytest.skip(f"{_page_id(page)} reads ../shared/data, not found at {shared}")
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(shared)
    cwd = tmp_path / "page"
    cwd.mkdir()
    env = {**os.environ, "SEQLAB_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = str(REPO / "src")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # every run folder the page writes was written
    for out in re.findall(r'out="(runs/[^"]+)"', code):
        assert (cwd / out / "config.json").is_file(), f"{out}/config.json is missing"
