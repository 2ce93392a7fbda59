"""The model's outcome record: the one source of every channel's words about the number."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stroke_risk.core.outcome import (
    KAGGLE_HISTORY,
    ModelOutcome,
    outcome_from_metadata,
    outcome_of_reply,
)
from tests.wording import INCIDENT_5_YEARS, INCIDENT_INTERNAL, SHIPPED, future_risk_claims


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


# --- The words every channel takes from the record ---

HISTORY_WORDS = (
    "label",
    "headline",
    "short_label",
    "not_prospective",
    "probability_description",
    "api_description",
    "fhir_outcome_text",
    "ranking",
)


@pytest.mark.parametrize("words", HISTORY_WORDS)
def test_no_words_for_the_shipped_history_model_call_it_a_stroke_risk(words: str) -> None:
    text = getattr(SHIPPED, words)
    assert text and not future_risk_claims(text)


def test_the_history_model_is_said_as_people_like_this_who_had_had_a_stroke() -> None:
    assert (
        SHIPPED.natural_frequency(0.091)
        == "About 9 in 100 adults like this in the data had had a stroke."
    )
    assert SHIPPED.natural_frequency(0.004).startswith("Fewer than 1 in 100")
    assert "not a future risk" in SHIPPED.label
    assert SHIPPED.for_the_patient(0.2) == (
        "Of 100 people like you in the records, about 20 had already had a stroke. This does "
        "not tell you if you will have a stroke in the future."
    )
    assert SHIPPED.band_label("high") == "High band"


def test_an_incident_model_says_its_horizon_everywhere() -> None:
    assert INCIDENT_5_YEARS.label == "5-year risk of stroke"
    assert INCIDENT_5_YEARS.headline == "5-year risk of stroke"
    assert (
        INCIDENT_5_YEARS.natural_frequency(0.091)
        == "About 9 in 100 adults like this have a stroke within 5 years."
    )
    assert "5-year risk of stroke" in INCIDENT_5_YEARS.probability_description
    assert INCIDENT_5_YEARS.fhir_outcome_text == "Stroke within 5 years"
    assert INCIDENT_5_YEARS.not_prospective == ""
    assert INCIDENT_5_YEARS.band_label("high") == "High risk"


@pytest.mark.parametrize("band", ["low", "moderate", "high"])
def test_a_cds_indicator_is_info_unless_the_record_allows_an_alert(band: str) -> None:
    assert SHIPPED.cds_indicator(band) == "info"
    assert INCIDENT_INTERNAL.cds_indicator(band) == "info"  # future risk, not validated elsewhere
    expected = {"low": "info", "moderate": "warning", "high": "critical"}[band]
    assert INCIDENT_5_YEARS.cds_indicator(band) == expected


def test_a_reply_carries_the_record_without_its_data_source_and_reads_back() -> None:
    carried = SHIPPED.summary().model_dump()
    assert carried == {
        "kind": "history",
        "horizon_years": None,
        "validation": "internal",
        "label": SHIPPED.label,
    }
    assert outcome_of_reply({"outcome": carried}) == SHIPPED.summary()
    assert outcome_of_reply({}) == SHIPPED.summary()  # an older reply: the shipped model's


def test_the_saved_record_reads_back_with_or_without_its_label() -> None:
    saved = INCIDENT_5_YEARS.as_metadata()
    assert "label" not in saved
    assert outcome_from_metadata({"outcome": saved}) == INCIDENT_5_YEARS
    assert outcome_from_metadata({"outcome": INCIDENT_5_YEARS.model_dump()}) == INCIDENT_5_YEARS
