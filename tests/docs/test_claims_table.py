"""The manual's "Which test checks each claim" table names tests that exist, so it cannot
drift from the suite."""

from __future__ import annotations

import ast
import re

from stroke_risk.core.config import REPO_ROOT

TESTING_PAGE = REPO_ROOT / "docs" / "contributors" / "testing.md"
SECTION = "## Which test checks each claim"


def test_every_test_the_claims_table_names_exists():
    page = TESTING_PAGE.read_text()
    assert SECTION in page
    section = page.split(SECTION, 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) >= 30, "the premise: the table names the tests"
    defined = {
        node.name
        for path in (REPO_ROOT / "tests").rglob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert named - defined == set()
