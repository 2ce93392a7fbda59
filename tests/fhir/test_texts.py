"""The card's and the rationale's words, from the reply as it is and as it is growing."""

from __future__ import annotations

import pytest

from stroke_risk.fhir.estimate import Estimate
from stroke_risk.fhir.mapping import MappedPatient
from stroke_risk.fhir.texts import details, summary
from tests.wording import INCIDENT_5_YEARS, SHIPPED, future_risk_claims, reply_outcome

REPLY = {
    "probability": 0.1234,
    "percent": 12.3,
    "risk_band": "moderate",
    "comparison": {"group": "Female, 60-69", "average_risk": 0.08, "relative_risk": 1.54},
    "contributing_factors": [
        {"factor": "age", "label": "Age", "value": 68, "direction": "raises"},
        {"factor": "bmi", "label": "BMI", "value": 25, "direction": "none"},
    ],
    "what_if": [{"factor": "smoking_status", "change": "stop smoking", "probability": 0.1}],
    "warnings": ["BMI outside the training range"],
    "model_tag": "stroke_risk_model:abc",
    "disclaimer": "Decision support, not a diagnosis.",
}


def scored(reply: dict) -> Estimate:
    return Estimate(MappedPatient("Patient/p"), "scored", result=reply, low=0.1234, high=0.1234)


def test_the_card_uses_the_replys_documented_fields() -> None:
    text = details(scored(REPLY))
    assert (
        "**Stroke history among similar adults in the data (not a future risk): 12.3%**, "
        "moderate band." in text
    )
    assert "About 12 in 100 adults like this in the data had had a stroke." in text
    assert "Peers (Female, 60-69): average 8.0%; this patient 1.54 times that." in text
    assert "- Age: raises risk" in text and "BMI: none" not in text
    assert "- stop smoking: 10.0%" in text
    assert "BMI outside the training range" in text and "stroke_risk_model:abc" in text
    assert summary(scored(REPLY)) == (
        "Stroke history 12.3% (moderate band, not a future risk); 1.54x peers"
    )


def test_the_card_reads_the_fields_the_reply_is_gaining_when_present() -> None:
    grown = {
        **REPLY,
        "probability_interval": [0.1, 0.16],
        "reference_patient": {
            "description": "a 50-year-old woman who never smoked",
            "probability": 0.03,
        },
        "contributing_factors": [
            {"factor": "age", "label": "Age", "direction": "raises", "odds_ratio": 1.8}
        ],
        "what_if": [],
        "guidance": [
            {"factor": "bmi", "advice": "Weight loss lowers blood pressure.", "source": "NICE"}
        ],
    }
    text = details(scored(grown))
    assert "95% interval 10.0% to 16.0%." in text
    assert "**What drives it** (against a 50-year-old woman who never smoked)" in text
    assert "- Age: raises risk (odds ×1.8)" in text
    assert "**What if**" not in text
    assert "- Weight loss lowers blood pressure. (NICE)" in text and "not from the model" in text


@pytest.mark.parametrize("reply", [REPLY, {**REPLY, "outcome": reply_outcome(SHIPPED)}])
def test_the_shipped_models_card_never_calls_its_number_a_stroke_risk(reply) -> None:
    """With the reply's outcome, or without one (a reply from before it was recorded)."""
    estimate = scored(reply)
    for text in (summary(estimate), details(estimate)):
        assert not future_risk_claims(text), future_risk_claims(text)
    assert "Not a prospective risk" in details(estimate)


def test_an_incident_models_card_names_its_horizon() -> None:
    estimate = scored({**REPLY, "outcome": reply_outcome(INCIDENT_5_YEARS)})
    assert summary(estimate) == "5-year stroke risk 12.3% (moderate); 1.54x peers"
    text = details(estimate)
    assert "**5-year risk of stroke: 12.3%**" in text
    assert "About 12 in 100 adults like this have a stroke within 5 years." in text
    assert "Not a prospective risk" not in text


def test_the_headline_and_the_range_are_rounded_by_one_rule() -> None:
    """The reply's ``percent`` is rounded half to even by numpy; the range was formatted
    by Python: with 4,000 glucose values a card read "9.9% ... 7.1%-9.8%"."""
    reply = {**REPLY, "probability": 0.09849, "percent": 9.9, "comparison": {}}
    estimate = Estimate(
        MappedPatient("Patient/p"), "scored", result=reply, low=0.0712, high=0.09849
    )
    assert summary(estimate).startswith(
        "Stroke history 9.8% (moderate band, not a future risk), 7.1%-9.8%"
    )
