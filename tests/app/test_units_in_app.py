"""The GP's own units in the form: glucose in mmol/L, height and weight instead of BMI."""

from __future__ import annotations

import pytest

from stroke_risk.app.client import NOT_ANSWERING, StrokeRiskClient
from stroke_risk.app.views import patient_from_form
from stroke_risk.core.units import glucose_to_mg_dl
from tests.app.conftest import fill_patient_form, submit
from tests.conftest import EXAMPLE_PATIENT

GLUCOSE_MMOL = "patient.avg_glucose_level.mmol_l"


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def in_mmol(at):
    at.radio(key="units.glucose").set_value("mmol/L").run()
    return at


def test_glucose_in_mmol_is_sent_in_mg_per_dl():
    values = {**EXAMPLE_PATIENT, "avg_glucose_level": 5.6}
    patient, problems = patient_from_form(values, False, "mmol/L")
    assert problems == []
    assert patient["avg_glucose_level"] == pytest.approx(100.89, abs=0.01)


def test_height_and_weight_give_the_bmi_when_none_is_typed():
    values = {**EXAMPLE_PATIENT, "bmi": None, "height_cm": 175, "weight_kg": 70}
    assert patient_from_form(values, False)[0]["bmi"] == 22.9
    imperial = {**EXAMPLE_PATIENT, "bmi": None, "height_ft": 5, "height_in": 9, "weight_lb": 154}
    assert patient_from_form(imperial, False, body_units="imperial")[0]["bmi"] == 22.7


def test_a_typed_bmi_wins_and_a_ticked_not_measured_stays_blank():
    values = {**EXAMPLE_PATIENT, "bmi": 30.0, "height_cm": 175, "weight_kg": 70}
    assert patient_from_form(values, False)[0]["bmi"] == 30.0
    assert patient_from_form({**values, "bmi": None}, True)[0]["bmi"] is None


def test_height_without_weight_is_a_problem_not_a_guess():
    values = {**EXAMPLE_PATIENT, "bmi": None, "height_cm": 175}
    patient, problems = patient_from_form(values, False)
    assert patient is None
    assert problems == [
        "BMI: give both height and weight, type the BMI itself, or tick 'BMI not measured'."
    ]


def test_an_implausible_weight_is_refused_in_pounds():
    values = {**EXAMPLE_PATIENT, "bmi": None, "height_ft": 5, "height_in": 9, "weight_lb": 9000}
    _, problems = patient_from_form(values, False, body_units="imperial")
    assert problems == ["Weight: 9000 is outside the accepted range, 44 to 661 lb."]


def test_the_glucose_input_follows_the_chosen_unit(app, closed_port_url):
    at = in_mmol(app(closed_port_url))
    glucose = at.number_input(key=GLUCOSE_MMOL)
    assert glucose.label == "Average glucose (mmol/L)"
    assert "Accepted: 3.1 to 33.3 mmol/L" in glucose.help
    assert glucose.step == 0.1
    at.run()  # the choice is remembered for the session
    assert at.radio(key="units.glucose").value == "mmol/L"


def test_glucose_56_mmol_is_accepted_and_560_refused_with_limits_in_mmol(app, closed_port_url):
    at = in_mmol(app(closed_port_url))
    fill_patient_form(at, {**EXAMPLE_PATIENT, "avg_glucose_level": 560.0}, glucose_key=GLUCOSE_MMOL)
    submit(at)
    assert (
        "Average glucose (mmol/L): 560 is outside the accepted range, 3.1 to 33.3 mmol/L."
        in texts(at.error)
    )
    at.number_input(key=GLUCOSE_MMOL).set_value(5.6)
    submit(at)
    errors = texts(at.error)
    assert "Average glucose" not in errors
    assert NOT_ANSWERING in errors  # valid, so the service was called


def test_imperial_inputs_replace_metric_ones(app, closed_port_url):
    at = app(closed_port_url)
    assert at.number_input(key="patient.height_cm").label == "Height (cm)"
    at.radio(key="units.body").set_value("imperial").run()
    labels = {w.key: w.label for w in at.number_input}
    assert labels["patient.weight_lb"] == "Weight (lb)"
    assert "patient.height_cm" not in labels


@pytest.mark.slow
def test_a_result_in_mmol_with_bmi_from_height_and_weight(app, service_url):
    at = in_mmol(app(service_url))
    patient = {**EXAMPLE_PATIENT, "age": 67.0, "avg_glucose_level": 12.7, "bmi": None}
    fill_patient_form(at, {**patient, "bmi": 1.0}, glucose_key=GLUCOSE_MMOL)
    at.number_input(key="patient.bmi").set_value(None)
    at.number_input(key="patient.height_cm").set_value(175)
    at.number_input(key="patient.weight_kg").set_value(70)
    submit(at)
    assert not at.exception and not at.error
    sent = {**patient, "avg_glucose_level": round(glucose_to_mg_dl(12.7, "mmol/L"), 2), "bmi": 22.9}
    expected = StrokeRiskClient(service_url).assess(sent)
    assert at.metric[0].value == f"{100 * expected.probability:.1f}%"
    assert "BMI computed from height and weight: 22.9 kg/m²." in texts(at.caption)
    markdown = texts(at.tabs[0].markdown)  # the result (the upload tab names both units)
    # 12.7 mmol/L is in the diabetes range: advice to test HbA1c, no glucose what-if (the
    # data show no effect of glucose within that range); no mg/dL anywhere.
    assert "Assess for diabetes (HbA1c)" in markdown
    assert "Bring average glucose" not in markdown
    assert "mg/dL" not in markdown
