"""The served model card, built from what is stored with a model (no service needed)."""

from __future__ import annotations

from stroke_risk.core.model_card import (
    HTI1_HEADINGS,
    NOT_RECORDED,
    model_card_html,
    served_model_card,
)
from stroke_risk.validation.served_card import card_record
from tests.wording import INCIDENT_5_YEARS, SHIPPED, future_risk_claims

PROFILE = {
    "category_counts": {"gender": {"Female": 2500, "Male": 1750, "Other": 1}},
    "peers": {
        "all|18-39": {"patients": 1000, "strokes": 6},
        "all|80+": {"patients": 250, "strokes": 60},
        "Female|80+": {"patients": 150, "strokes": 30},
    },
    "ranges": {"age": [18.0, 82.0]},
}
VALIDATION = {
    "validation": {
        "patients": 5110,
        "strokes": 249,
        "optimism_corrected": {
            "metrics": {"roc_auc": {"apparent": 0.85, "corrected": 0.84, "optimism": 0.01}}
        },
    },
    "intended_population": {"patients": 4254, "strokes": 247, "age_only_roc_auc": 0.80},
    "benchmarks": {"age_only": {"model_minus_benchmark": {"roc_auc": {"difference": 0.009}}}},
    "instability": {"median_interval_width": 0.02, "by_band": {"low": {}}},
    "subgroups": [{"grouping": "sex", "group": "Female", "patients": 2500, "extra": 1}],
}


def test_every_hti1_heading_is_a_section_in_the_rules_order():
    card = served_model_card("stroke_risk_model:abc", {}, PROFILE, SHIPPED)
    assert card["model_tag"] == "stroke_risk_model:abc"
    sections = card["source_attributes"]
    assert list(sections) == list(HTI1_HEADINGS)
    assert [s["heading"] for s in sections.values()] == list(HTI1_HEADINGS.values())
    assert len(HTI1_HEADINGS) == 9


def test_the_development_demographics_come_from_the_stored_profile():
    card = served_model_card("t", {"n_development": 5110}, PROFILE, SHIPPED)
    demographics = card["source_attributes"]["development_details_and_input_features"][
        "demographics"
    ]
    assert demographics["patients"] == 1250  # the age bands of everyone, not per sex
    assert demographics["by_age_band"]["80+"] == {"patients": 250, "strokes": 60, "share": 0.2}
    assert demographics["gender"]["Other"]["patients"] == 1


def test_a_model_saved_without_validation_says_so_instead_of_inventing_figures():
    card = served_model_card("t", {}, PROFILE, SHIPPED)
    performance = card["source_attributes"]["quantitative_performance"]
    assert performance["internal_validation"] == NOT_RECORDED


def test_the_validation_saved_at_training_is_what_the_card_shows():
    record = card_record(VALIDATION)
    card = served_model_card("t", {}, PROFILE, SHIPPED, record)
    shown = card["source_attributes"]["quantitative_performance"]["internal_validation"]
    assert shown["optimism_corrected"]["roc_auc"] == {"apparent": 0.85, "corrected": 0.84}
    assert shown["adults"]["patients"] == 4254 and shown["adults"]["age_only_roc_auc"] == 0.80
    assert shown["model_minus_age_only"]["roc_auc"] == {"difference": 0.009}
    fairness = card["source_attributes"]["fairness_process"]["subgroups"]
    assert fairness[0]["group"] == "Female" and "extra" not in fairness[0]


def test_the_history_card_says_it_is_not_a_forecast_and_an_incident_one_names_its_horizon():
    history = served_model_card("t", {}, PROFILE, SHIPPED)
    page = model_card_html(history)
    assert not future_risk_claims(page)
    cautions = history["source_attributes"]["cautioned_out_of_scope_use"]["do_not_use_for"]
    assert any("forecasting a future stroke" in c for c in cautions)
    incident = served_model_card("t", {}, PROFILE, INCIDENT_5_YEARS)
    assert incident["outcome"]["label"] == "5-year risk of stroke"
    assert incident["source_attributes"]["external_validation_process"]["status"] == "external"


def test_the_page_escapes_what_it_shows():
    card = served_model_card("<script>x</script>", {}, PROFILE, SHIPPED)
    page = model_card_html(card)
    assert "<script>" not in page and "&lt;script&gt;" in page
