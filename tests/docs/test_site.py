"""The manual builds strictly, and the strict build catches what it promises to catch.

`make docs` runs `mkdocs build --strict`; these tests run the same build (into a temporary
folder, so the repository's site/ is never touched), so `make test` fails on a broken link,
a page left out of the navigation or a missing sample, and says which. The tests that break
a copy of the docs on purpose build it again each, so they are marked slow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"
BUILD_TIMEOUT_SECONDS = 180
# Anything the browser would fetch from another server: scripts, stylesheets, fonts, images.
FETCHED_FROM_ELSEWHERE = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//"
    r"|@import\s+url\([\"']?(?:https?:)?//"
    r"|fonts\.googleapis|fonts\.gstatic",
    re.IGNORECASE,
)


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project at ``project`` into ``site``."""
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    completed = build(REPO_ROOT, site)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "WARNING" not in completed.stderr, completed.stderr[-4000:]
    return site


@pytest.fixture
def copy_of_the_docs(tmp_path: Path) -> Path:
    """The manual's sources in a folder of their own, for a test to break."""
    shutil.copy(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_manual_builds_strictly_without_a_warning(built_site: Path) -> None:
    pages = list(built_site.rglob("*.html"))
    assert (built_site / "index.html").is_file()
    assert len(pages) >= 30, "the premise: every page of the manual was built"


def test_every_sample_a_page_includes_is_in_the_built_page(built_site: Path) -> None:
    """The snippets are expanded, not left as their "--8<--" lines."""
    page = (built_site / "provider-it" / "calling-the-api.html").read_text()
    assert "--8&lt;--" not in page and "--8<--" not in page
    assert "model_tag" in page


def test_the_built_site_loads_nothing_from_other_servers(built_site: Path) -> None:
    """The machine and the clinics reading it may be offline: no fonts, scripts or styles
    from elsewhere (the theme's web fonts are switched off)."""
    fetched = {
        str(path.relative_to(built_site)): match.group(0)
        for path in built_site.rglob("*")
        if path.suffix in {".html", ".css", ".js"}
        for match in [FETCHED_FROM_ELSEWHERE.search(path.read_text(errors="replace"))]
        if match
    }
    assert fetched == {}


@pytest.mark.slow  # a build of its own each (about 10 s)
def test_a_page_with_a_broken_link_fails_the_strict_build(
    copy_of_the_docs: Path, tmp_path: Path
) -> None:
    index = copy_of_the_docs / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [a page](provider-it/no-such-page.md).\n")
    completed = build(copy_of_the_docs, tmp_path / "site")
    assert completed.returncode != 0
    assert "no-such-page.md" in completed.stderr


@pytest.mark.slow  # a build of its own each (about 10 s)
def test_a_link_to_a_missing_heading_fails_the_strict_build(
    copy_of_the_docs: Path, tmp_path: Path
) -> None:
    index = copy_of_the_docs / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [it](provider-it/api-keys.md#no-such-heading).\n")
    completed = build(copy_of_the_docs, tmp_path / "site")
    assert completed.returncode != 0
    assert "no-such-heading" in completed.stderr


@pytest.mark.slow  # a build of its own each (about 10 s)
def test_a_page_left_out_of_the_navigation_fails_the_strict_build(
    copy_of_the_docs: Path, tmp_path: Path
) -> None:
    (copy_of_the_docs / "docs" / "reference" / "forgotten.md").write_text("# Forgotten\n")
    completed = build(copy_of_the_docs, tmp_path / "site")
    assert completed.returncode != 0
    assert "forgotten.md" in completed.stderr


@pytest.mark.slow  # a build of its own each (about 10 s)
def test_a_missing_sample_fails_the_strict_build(copy_of_the_docs: Path, tmp_path: Path) -> None:
    (copy_of_the_docs / "docs" / "samples" / "replies" / "predict.json").unlink()
    completed = build(copy_of_the_docs, tmp_path / "site")
    assert completed.returncode != 0
    assert "predict.json" in completed.stderr
