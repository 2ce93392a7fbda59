"""Text a spreadsheet would run as a formula is neutralised in every CSV written for people
(OWASP, "CSV Injection"); numbers and ordinary text are left alone."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from stroke_risk.app.batch import scored_csv
from stroke_risk.core.spreadsheet_cells import neutralised


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_starting_like_a_formula_is_prefixed_with_a_quote(text: str) -> None:
    assert neutralised(text) == "'" + text


@pytest.mark.parametrize("value", ["P01", "a=b", "", -0.5, 3, None])
def test_other_text_and_numbers_are_unchanged(value) -> None:
    assert neutralised(value) == value


def test_the_apps_scored_csv_does_not_carry_a_formula_in_an_id() -> None:
    results = pd.DataFrame(
        {"id": ["=1+1", "p2"], "probability": [0.12, -0.0], "risk_band": ["moderate", "low"]}
    )
    downloaded = pd.read_csv(io.BytesIO(scored_csv(results)), dtype={"id": str})
    assert downloaded["id"].tolist() == ["'=1+1", "p2"]
    assert downloaded["probability"].tolist() == [0.12, -0.0]
