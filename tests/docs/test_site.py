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
from collections.abc import Callable
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


def appended_to_the_front_page(text: str) -> Callable[[Path], object]:
    def append(docs: Path) -> None:
        index = docs / "index.md"
        index.write_text(index.read_text() + text)

    return append


# Each fault the strict build promises to catch: how to make it in a copy of docs/, and
# what the build's error must name.
FAULTS: dict[str, tuple[Callable[[Path], object], str]] = {
    "a_link_to_a_missing_page": (
        appended_to_the_front_page("\nSee [a page](provider-it/no-such-page.md).\n"),
        "no-such-page.md",
    ),
    "a_link_to_a_missing_heading": (
        appended_to_the_front_page("\nSee [it](provider-it/api-keys.md#no-such-heading).\n"),
        "no-such-heading",
    ),
    "a_page_left_out_of_the_navigation": (
        lambda docs: (docs / "reference" / "forgotten.md").write_text("# Forgotten\n"),
        "forgotten.md",
    ),
    "a_missing_sample": (
        lambda docs: (docs / "samples" / "replies" / "predict.json").unlink(),
        "predict.json",
    ),
}


@pytest.mark.slow  # a build of its own each (about 10 s)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_strict_build_fails_naming_the_fault(
    fault: str, copy_of_the_docs: Path, tmp_path: Path
) -> None:
    make_the_fault, named = FAULTS[fault]
    make_the_fault(copy_of_the_docs / "docs")
    completed = build(copy_of_the_docs, tmp_path / "site")
    assert completed.returncode != 0
    assert named in completed.stderr
