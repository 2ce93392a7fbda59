"""The model's outcome record: the one source of every channel's words about the number."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stroke_risk.core.outcome import KAGGLE_HISTORY, ModelOutcome, outcome_from_metadata


def test_the_shipped_data_records_a_history_with_no_horizon() -> None:
    assert KAGGLE_HISTORY.kind == "history"
    assert KAGGLE_HISTORY.horizon_years is None
    assert not KAGGLE_HISTORY.is_prospective
    assert not KAGGLE_HISTORY.may_alert


def test_a_model_saved_before_the_record_reads_as_the_kaggle_history() -> None:
    assert outcome_from_metadata({}) == KAGGLE_HISTORY


def test_a_recorded_incident_outcome_is_read_back() -> None:
    incident = ModelOutcome(kind="incident", horizon_years=5, data_source="a cohort")
    assert outcome_from_metadata({"outcome": incident.model_dump()}) == incident
    assert incident.horizon_words == "5-year"
    assert incident.is_prospective


def test_only_an_externally_validated_future_risk_may_alert() -> None:
    internal = ModelOutcome(kind="incident", horizon_years=5, data_source="a cohort")
    external = internal.model_copy(update={"validation": "external"})
    assert not internal.may_alert
    assert external.may_alert


@pytest.mark.parametrize(
    ("kind", "horizon"),
    [("incident", None), ("history", 5.0)],
    ids=["no-horizon", "history-horizon"],
)
def test_a_horizon_goes_with_an_incident_outcome_only(kind: str, horizon: float | None) -> None:
    with pytest.raises(ValidationError):
        ModelOutcome(kind=kind, horizon_years=horizon, data_source="x")
