"""What a population worklist's summary says it ranks by, from the model's outcome record
(written without Spark: the summary is plain files through pyarrow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stroke_risk.core.responses import INTERVAL_NAME
from stroke_risk.population.job import write_summary
from tests.wording import INCIDENT_5_YEARS, SHIPPED, future_risk_claims

GROUPS = [
    {
        "group": "all",
        "patients": 3,
        "mean_probability": 0.1,
        "low": 1,
        "moderate": 1,
        "high": 1,
        "rejected": 0,
    }
]


def summary_for(outcome, folder: Path) -> dict:
    write_summary(GROUPS, str(folder), [], "stroke_risk_model:abc", outcome)
    return json.loads((folder / "summary.json").read_text())


def test_the_shipped_models_worklist_ranks_a_stroke_history_not_a_future_risk(tmp_path):
    summary = summary_for(SHIPPED, tmp_path)
    assert summary["ranked_by"] == SHIPPED.ranking
    assert (
        "stroke history" in summary["ranked_by"] and "not by a future risk" in summary["ranked_by"]
    )
    assert summary["outcome"]["label"] == SHIPPED.label
    assert summary["interval_name"] == INTERVAL_NAME
    assert not future_risk_claims(json.dumps(summary))


def test_an_incident_models_worklist_ranks_by_its_horizons_risk(tmp_path):
    summary = summary_for(INCIDENT_5_YEARS, tmp_path)
    assert summary["ranked_by"] == "Ranked by 5-year risk of stroke, highest first."
    assert summary["outcome"]["horizon_years"] == pytest.approx(5)
