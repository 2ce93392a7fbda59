"""The app's form and wording, without a service: everything comes from the schema."""

from __future__ import annotations

import json
from typing import get_args

import pandas as pd
import pytest

from stroke_risk.app.batch import patients_for_service
from stroke_risk.app.client import DEFAULT_API_URL, StrokeRiskClient, chunks
from stroke_risk.app.views import (
    BAND_BACKGROUNDS,
    BAND_COLOURS,
    BMI_NOT_MEASURED,
    MAX_STYLED_CELLS,
    factor_chart,
    factors_text,
    form_fields,
    highlight_bands,
    interval_text,
    option_label,
    patient_from_form,
    people_like_this,
    percent_text,
    reference_text,
    what_if_views,
)
from stroke_risk.core.responses import RiskBand
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient, categories, numeric_limits
from tests.app.conftest import example_assessment as _assessment
from tests.conftest import EXAMPLE_PATIENT


def test_form_asks_every_schema_field_in_the_schemas_order():
    assert [field.name for field in form_fields()] == list(FEATURES)


def test_form_choices_units_limits_and_help_come_from_the_schema():
    for field in form_fields():
        info = Patient.model_fields[field.name]
        assert field.label.startswith(info.title)
        assert info.description in field.help
        if field.name in NUMERIC_FEATURES:
            assert field.limits == numeric_limits(field.name)
        else:
            assert field.options == categories(field.name)
    labels = {field.name: field.label for field in form_fields()}
    assert labels["age"] == "Age (years)"
    assert labels["avg_glucose_level"] == "Average glucose (mg/dL)"
    assert labels["bmi"] == "BMI (kg/m²)"


def test_the_form_takes_adults_and_every_work_type():
    fields = {field.name: field for field in form_fields()}
    assert fields["age"].limits[0] == 18  # the intended population
    assert {"children", "Never_worked"} <= set(fields["work_type"].options)
    assert option_label("work_type", "Never_worked") == "Never worked"
    assert fields["ever_married"].options == ("Yes", "No")
    assert [option_label("hypertension", v) for v in fields["hypertension"].options] == [
        "No",
        "Yes",
    ]


def test_a_complete_form_becomes_exactly_the_schemas_patient():
    patient, problems = patient_from_form({**EXAMPLE_PATIENT, "reference": "AB-12"}, False)
    assert problems == []
    assert patient == Patient.model_validate(EXAMPLE_PATIENT).model_dump()
    assert "reference" not in patient  # the patient reference never leaves the app
    assert patient["ever_married"] == "Yes"


def test_unanswered_questions_are_named_and_nothing_is_sent():
    patient, problems = patient_from_form({"gender": "Female", "age": 40.0}, False)
    assert patient is None
    assert len(problems) == len(FEATURES) - 2
    assert "Work type: please answer." in problems
    assert any(BMI_NOT_MEASURED in problem for problem in problems)


def test_a_blank_bmi_is_only_sent_as_not_measured_when_ticked():
    values = {**EXAMPLE_PATIENT, "bmi": None}
    assert patient_from_form(values, bmi_not_measured=False)[0] is None
    patient, _ = patient_from_form(values, bmi_not_measured=True)
    assert patient["bmi"] is None
    # Ticking the box wins over a number left in the field.
    patient, _ = patient_from_form(EXAMPLE_PATIENT, bmi_not_measured=True)
    assert patient["bmi"] is None


def test_impossible_values_are_refused_with_the_fields_title():
    patient, problems = patient_from_form({**EXAMPLE_PATIENT, "age": 130.0}, False)
    assert patient is None
    assert problems == ["Age (years): Input should be less than or equal to 120."]


def test_a_child_is_refused_before_anything_is_sent():
    patient, problems = patient_from_form({**EXAMPLE_PATIENT, "age": 12.0}, False)
    assert patient is None
    assert len(problems) == 1 and "under 18 are not scored" in problems[0]


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0.2263, "about 23 in 100 people like this patient"),
        (0.125, "about 13 in 100 people like this patient"),  # half rounds up, not to even
        (0.01, "about 1 in 100 people like this patient"),
        (0.004, "fewer than 1 in 100 people like this patient (about 4 in 1,000)"),
        (0.0003, "fewer than 1 in 1,000 people like this patient"),
    ],
)
def test_risk_is_also_said_as_people_in_100(probability, expected):
    assert people_like_this(probability) == expected


def test_tiny_risks_are_not_shown_as_zero():
    assert percent_text(0.0002) == "<0.1%"
    assert percent_text(0.2263) == "22.6%"


def test_every_risk_band_has_a_colour_and_a_highlight():
    assert set(BAND_COLOURS) == set(BAND_BACKGROUNDS) == set(get_args(RiskBand))


def test_what_if_is_a_before_and_after():
    (glucose,) = what_if_views(_assessment())
    assert (glucose.title, glucose.before, glucose.after) == (
        "Bring average glucose to 99 mg/dL",
        "22.6%",
        "18.0%",
    )
    assert glucose.change == "228.7 mg/dL → 99 mg/dL"
    assert glucose.delta == "-4.6 points"
    assert "4.6 percentage points lower" in glucose.summary


def test_a_what_if_that_does_not_help_says_so():
    worse = (
        _assessment()
        .what_if[0]
        .model_copy(update={"probability": 0.2295, "absolute_reduction": -0.0032})
    )
    (view,) = what_if_views(_assessment(what_if=[worse.model_dump()]))
    assert view.delta == "+0.3 points"
    assert "higher" in view.summary and "no benefit" in view.summary


def test_the_interval_is_shown_beside_the_estimate():
    assert interval_text(_assessment()) == "22.6% (18.1% to 27.9%)"
    assert interval_text(_assessment(probability_interval=None)) == "22.6%"


def test_the_reference_patient_is_named_with_its_own_estimate():
    text = reference_text(_assessment())
    assert "a 50.5-year-old woman" in text and "2.7%" in text


def test_factor_chart_draws_bars_from_1_to_each_odds_ratio_on_a_log_scale():
    spec = factor_chart(_assessment()).to_dict()
    line, bars = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["x"]["field"] == "bar_from"
    assert bars["encoding"]["x2"]["field"] == "bar_to"
    assert bars["encoding"]["x"]["scale"]["type"] == "log"
    assert bars["encoding"]["color"]["field"] == "direction"
    assert line["mark"]["type"] == "rule"  # the reference patient, at 1
    rows = spec["datasets"][bars["data"]["name"]]
    assert [row["factor"] for row in rows] == ["Age: 67 years", "BMI: not measured"]
    assert rows[0]["odds_ratio"] == pytest.approx(3.21)
    assert rows[0]["bar_from"] == 1.0 and rows[0]["bar_to"] == pytest.approx(3.21)


def test_the_axis_title_is_never_cut_short():
    spec = factor_chart(_assessment()).to_dict()
    assert spec["layer"][1]["encoding"]["x"]["axis"]["titleLimit"] == 0  # 0: no limit


def test_the_chart_has_a_text_alternative_naming_every_factor():
    text = factors_text(_assessment())
    assert text == spec_description(factor_chart(_assessment()))
    assert "Age 67 years (reference 50.5 years): odds × 3.21, raises the risk" in text
    assert "BMI not measured" in text


def spec_description(chart) -> str:
    return chart.to_dict()["description"]


def test_band_cells_are_highlighted_in_the_ranked_table():
    frame = pd.DataFrame({"risk_percent": [22.6, 3.1], "risk_band": ["high", "low"]})
    html = highlight_bands(frame).to_html()
    assert BAND_BACKGROUNDS["high"] in html and BAND_BACKGROUNDS["low"] in html


def test_uploads_are_split_into_chunks_the_service_accepts():
    sizes = [len(chunk) for _, chunk in chunks(range(25_001), 10_000)]
    offsets = [offset for offset, _ in chunks(range(25_001), 10_000)]
    assert sizes == [10_000, 10_000, 5_001]
    assert offsets == [0, 10_000, 20_000]
    assert StrokeRiskClient().max_batch_size == 10_000


def test_uploaded_rows_become_strict_json_patients(stroke_data):
    patients = patients_for_service(stroke_data.head(50))
    text = json.dumps(patients, allow_nan=False)  # a blank BMI is null, never NaN
    assert set(patients[0]) == set(FEATURES)
    assert any(patient["bmi"] is None for patient in patients)
    assert all(Patient.model_validate(patient) for patient in json.loads(text))


def test_client_settings_come_from_the_environment_then_the_secrets(monkeypatch):
    for name in ("STROKE_API_URL", "STROKE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = StrokeRiskClient.from_environment()
    assert (client.base_url, client.api_key) == (DEFAULT_API_URL, None)
    assert StrokeRiskClient.from_environment({"STROKE_API_KEY": "from-secrets"}).api_key == (
        "from-secrets"
    )
    monkeypatch.setenv("STROKE_API_URL", "https://stroke.example.org/")
    monkeypatch.setenv("STROKE_API_KEY", "from-env")
    client = StrokeRiskClient.from_environment({"STROKE_API_KEY": "from-secrets"})
    assert (client.base_url, client.api_key) == ("https://stroke.example.org", "from-env")


def test_tables_too_big_to_colour_quickly_are_shown_plain():
    frame = pd.DataFrame({"risk_band": ["low"] * (MAX_STYLED_CELLS + 1)})
    assert highlight_bands(frame) is frame
