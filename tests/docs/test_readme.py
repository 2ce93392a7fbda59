"""The README is a front door: short, and every link and image in it leads somewhere.

The strict site build checks the manual's links; the README is not part of the site (it is
what a repository host shows first), so its relative links are checked here.
"""

from __future__ import annotations

import re

from stroke_risk.core.config import REPO_ROOT

README = REPO_ROOT / "README.md"
MAX_LINES = 400
# [text](target) and ![alt](target); a target with a scheme or only an anchor is not a file.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_targets(markdown: str) -> list[str]:
    """The link and image targets of ``markdown`` that name files of the repository."""
    targets = (match.group(1) for match in LINK.finditer(markdown))
    return [t.split("#", 1)[0] for t in targets if not re.match(r"^[a-z]+:|^#", t)]


def test_the_readme_is_at_most_400_lines() -> None:
    assert len(README.read_text().splitlines()) <= MAX_LINES


def test_every_relative_link_and_image_in_the_readme_exists() -> None:
    targets = relative_targets(README.read_text())
    assert "docs/images/app-single.png" in targets, "the premise: the screenshot is shown"
    assert len(targets) >= 10, "the premise: the README links into the manual"
    assert [t for t in targets if not (REPO_ROOT / t).exists()] == []


def test_a_link_to_a_missing_page_would_be_found() -> None:
    targets = relative_targets("See [it](docs/no-such-page.md#x) and [site](https://a.b/c).")
    assert targets == ["docs/no-such-page.md"]
    assert not (REPO_ROOT / targets[0]).exists()
