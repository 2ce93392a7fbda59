"""What the app says the number is: from the reply's outcome, never guessed, never a
"stroke risk" for the shipped stroke-history model (no service needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from stroke_risk.app.batch import ScoredUpload
from stroke_risk.app.views import (
    band_counts_label,
    band_text,
    comparison_text,
    factors_text,
    frequency_text,
    headline_label,
    interval_text,
    model_card_markdown,
    outcome_caveat,
    reference_text,
    what_if_views,
)
from stroke_risk.core.responses import Assessment
from tests.app.conftest import example_assessment
from tests.wording import INCIDENT_5_YEARS, future_risk_claims, reply_outcome


def everything_the_result_says(assessment: Assessment) -> str:
    return "\n".join(
        [
            headline_label(assessment),
            band_text(assessment),
            frequency_text(assessment),
            outcome_caveat(assessment),
            comparison_text(assessment),
            interval_text(assessment),
            reference_text(assessment),
            factors_text(assessment),
            *(view.summary for view in what_if_views(assessment)),
            *(advice.advice for advice in assessment.guidance),
            assessment.disclaimer,
        ]
    )


def test_the_shipped_models_result_never_calls_its_number_a_stroke_risk():
    said = everything_the_result_says(example_assessment())
    assert not future_risk_claims(said), future_risk_claims(said)


def test_the_shipped_models_result_says_what_the_number_is():
    assessment = example_assessment()
    assert headline_label(assessment) == (
        "Stroke history among similar adults in the data (not a future risk)"
    )
    assert frequency_text(assessment) == (
        "About 23 in 100 adults like this in the data had had a stroke."
    )
    assert band_text(assessment) == "High band (15% and above)"
    assert outcome_caveat(assessment).startswith("Not a prospective risk")


def test_an_incident_models_result_says_its_horizon():
    assessment = example_assessment(outcome=reply_outcome(INCIDENT_5_YEARS))
    assert headline_label(assessment) == "5-year risk of stroke"
    assert (
        frequency_text(assessment)
        == "About 23 in 100 adults like this have a stroke within 5 years."
    )
    assert band_text(assessment) == "High risk (15% and above)"
    assert outcome_caveat(assessment) == ""


def test_a_reply_without_an_outcome_is_refused_rather_than_guessed():
    reply = example_assessment().model_dump()
    del reply["outcome"]
    with pytest.raises(ValueError, match="outcome"):
        Assessment.model_validate(reply)


def test_the_result_links_to_the_served_card_of_the_answering_model():
    assert model_card_markdown("http://127.0.0.1:3000/", "stroke_risk_model:abc") == (
        "[Model card for stroke_risk_model:abc](http://127.0.0.1:3000/model-card): what the "
        "number is, the data it comes from and how it was validated."
    )


def test_an_uploads_worklist_says_what_it_ranks_by():
    shipped = ScoredUpload(
        pd.DataFrame(), [], 1, (0.05, 0.15), assessments={2: example_assessment()}
    )
    assert "not by a future risk" in shipped.outcome.ranking
    assert not future_risk_claims(shipped.outcome.ranking)
    assert band_counts_label(shipped.outcome, "high", "15% and above") == (
        "High band (15% and above)"
    )
    incident = example_assessment(outcome=reply_outcome(INCIDENT_5_YEARS))
    upload = ScoredUpload(pd.DataFrame(), [], 1, (0.05, 0.15), assessments={2: incident})
    assert upload.outcome.ranking == "Ranked by 5-year risk of stroke, highest first."
    assert band_counts_label(upload.outcome, "high", None) == "High risk"
