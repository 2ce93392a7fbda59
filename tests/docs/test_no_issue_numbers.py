"""No issue numbers in the docs, code, tests or benchmarks: the reason, written out.

Why: an issue number means nothing to a reader without the tracker, and nothing at all once
the project moves trackers; "the security review's 700,000-key body" says what happened.
This scans every text file of the repository (not the environment, node packages or the
built site) for the ways an issue number gets written; this file, whose examples must hold
them, is the one exception.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT

# The word with a number ("Issue-17", "issues_34" in a name), "(#14)", or a lone "#21" after
# a space. Another project's tracker named with its repository ("bentoml/BentoML#5566") or
# linked by URL is a citation, not one of ours; a six-digit colour is not a number.
ISSUE_NUMBER = re.compile(
    r"(?<![a-z])issues?[\s_-]*#?\d+|\(#\d+\)|(?:^|(?<=\s))#\d{1,5}\b(?![-\w])",
    re.IGNORECASE,
)
SCANNED = (
    "README.md",
    "Makefile",
    "mkdocs.yml",
    "service.py",
    "training.py",
    "locustfile.py",
    "create_bento_artifacts.sh",
    "bentofile.yaml",
    "pyproject.toml",
    "docs",
    "stroke_risk",
    "tests",
    "bench",
    "scripts",
    "app",
    "jobs",
    "deploy",
    "notebooks",
)
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml", ".yaml", ".yml", ".lua", ".template", ".ipynb"}
# Data files quote external sources verbatim (FHIR examples, code lists): not our prose.
NOT_SCANNED = {"data", "results", "__pycache__"}


def issue_numbers(text: str) -> list[str]:
    """Every way of writing an issue number that ``text`` holds."""
    return [match.group(0) for match in ISSUE_NUMBER.finditer(text)]


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        root = REPO_ROOT / name
        if root.is_file():
            files.append(root)
            continue
        files.extend(
            path
            for path in root.rglob("*")
            if path.is_file()
            and path.suffix in TEXT_SUFFIXES
            and not NOT_SCANNED & set(path.relative_to(REPO_ROOT).parts)
        )
    return [path for path in files if path != Path(__file__)]


@pytest.mark.parametrize(
    "text",
    [
        "see issue 18",
        "Issue 14: ~34 parameters",
        "(issue-17)",
        "issues 14 and 18",
        "the issue #3 fix",
        "def test_the_issues_34_parameter_figure_is_reproduced",
        "as reported (#14)",
        "fixed in #21.",
    ],
)
def test_an_issue_number_is_found_however_it_is_written(text: str) -> None:
    assert issue_numbers(text)


@pytest.mark.parametrize(
    "text",
    [
        "the security review's 700,000-key body",
        "not under the working directory (bentoml/BentoML#5566)",
        "https://github.com/bentoml/BentoML/issues/5566",
        "[the section](#2026-11-30-population-scoring-on-spark)",
        "color: #333333",
        "an issue the review found",
    ],
)
def test_reasons_citations_and_anchors_are_not_issue_numbers(text: str) -> None:
    assert issue_numbers(text) == []


def test_no_file_names_an_issue_number() -> None:
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()[:120]}"
        for path in scanned_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if issue_numbers(line)
    ]
    assert len(scanned_files()) > 100, "the premise: the repository's files are scanned"
    assert found == [], "write the reason instead of the issue number:\n" + "\n".join(found)
