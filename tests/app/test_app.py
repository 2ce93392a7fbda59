"""The Streamlit app in AppTest, talking over HTTP to real services (never a mock)."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from stroke_risk.app.batch import patients_for_service, score_patients_csv, scored_csv
from stroke_risk.app.client import KEY_REFUSED, NOT_ANSWERING, StrokeRiskClient
from stroke_risk.core.patient_tables import DataError, load_patients_csv
from stroke_risk.core.schema import FEATURES, categories
from tests.app.conftest import APP_API_KEY, fill_patient_form, sample_upload, submit
from tests.conftest import EXAMPLE_PATIENT
from tests.wording import future_risk_claims


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


TECHNICAL_DETAILS = "Technical details (for your IT contact)"


def technical_details(at) -> str:
    """The folded-away text for the IT contact, under the clinic's message."""
    folded = [expander for expander in at.expander if expander.label == TECHNICAL_DETAILS]
    return texts(folded[0].text) if folded else ""


def test_form_offers_every_schema_field_with_its_choices(app, closed_port_url):
    at = app(closed_port_url)  # showing the form never calls the service
    assert not at.exception
    keys = {w.key for w in [*at.radio, *at.selectbox, *at.number_input]}
    body = {"patient.height_cm", "patient.weight_kg"}  # BMI's alternative
    assert keys == {f"patient.{name}" for name in FEATURES} | body | {"units.glucose", "units.body"}
    assert at.selectbox(key="patient.work_type").options == [
        "Private",
        "Self-employed",
        "Govt job",
        "Children",
        "Never worked",
    ]
    assert at.radio(key="patient.ever_married").options == list(categories("ever_married"))
    assert at.number_input(key="patient.age").min == 18  # adults only
    assert at.checkbox(key="patient.bmi_not_measured").label == "BMI not measured"
    assert "never sent" in at.text_input(key="patient.reference").help
    # Nothing is pre-filled: a GP must not submit someone else's example by accident.
    assert at.number_input(key="patient.age").value is None
    assert at.radio(key="patient.gender").value is None


def test_the_gp_is_not_shown_the_services_address(app, closed_port_url):
    at = app(closed_port_url)
    shown = texts([*at.markdown, *at.caption, *at.sidebar.markdown, *at.info])
    assert closed_port_url not in shown
    assert "Prediction service:" not in shown


def test_an_incomplete_form_names_what_is_missing_and_calls_nothing(app, closed_port_url):
    at = app(closed_port_url)
    at.radio(key="patient.gender").set_value("Female")
    submit(at)
    errors = texts(at.error)
    assert "Age (years): please answer." in errors
    assert "Sex" not in errors
    assert NOT_ANSWERING not in errors  # the service (down here) was never called


@pytest.mark.slow
def test_the_result_explains_the_risk(app, service_url, stored_model):
    patient = {**EXAMPLE_PATIENT, "age": 67.0, "smoking_status": "smokes"}
    at = submit(fill_patient_form(app(service_url), patient, reference="Mrs T, bay 3"))
    assert not at.exception and not at.error
    expected = StrokeRiskClient(service_url).assess(patient)
    percent = f"{100 * expected.probability:.1f}%"
    assert at.metric[0].label == expected.outcome.short_label and at.metric[0].value == percent
    assert at.header[0].value == "Result for Mrs T, bay 3"
    markdown = texts(at.markdown)
    assert f"**{expected.outcome.headline}**" in markdown  # what the number is, whole
    assert expected.outcome.natural_frequency(expected.probability) in markdown
    assert f"{expected.risk_band.capitalize()} band (" in markdown  # the band badge
    assert f"The average estimate for {expected.comparison.group}" in markdown
    chart = at.get("vega_lite_chart")
    assert len(chart) == 1 and "odds_ratio" in chart[0].proto.spec
    what_ifs = [m.label for m in at.metric[1:]]
    # Glucose 112.98 is above the healthy target, but the data show no effect of glucose
    # within the under-140 range (the evidence saved with the model): no what-if.
    assert len(what_ifs) == len(expected.what_if) == 0
    assert all(label.startswith(f"Now {percent}") for label in what_ifs)
    low, high = expected.probability_interval
    assert f"to {100 * high:.1f}%" in texts(at.caption)  # the interval beside the risk
    assert "Compared with a reference patient" in markdown
    assert "Guideline advice (not from this model)" in markdown
    assert "Stopping smoking helps prevent strokes" in markdown
    assert "not a diagnosis" in texts(at.info)
    assert f"Model {stored_model.tag}" in texts(at.caption)
    assert f"[Model card for {stored_model.tag}]({service_url}/model-card)" in markdown
    # What a GP reads never calls the shipped model's number a stroke risk.
    shown = "\n".join(
        [
            texts(at.markdown),
            texts(at.caption),
            texts(at.info),
            at.metric[0].label,
            at.title[0].value,
        ]
    )
    assert not future_risk_claims(shown), future_risk_claims(shown)


@pytest.mark.slow
def test_bmi_not_measured_is_scored_and_said(app, service_url):
    at = submit(fill_patient_form(app(service_url), {**EXAMPLE_PATIENT, "bmi": None}))
    assert not at.error
    assert "BMI not measured" in texts(at.warning)


def test_service_down_is_said_plainly_and_the_form_keeps_its_values(app, closed_port_url):
    at = submit(fill_patient_form(app(closed_port_url), reference="JS"))
    assert texts(at.error) == NOT_ANSWERING  # what to do in the clinic
    assert "Try again in a minute" in NOT_ANSWERING and "IT contact" in NOT_ANSWERING
    assert f"Cannot reach the prediction service at {closed_port_url}" in technical_details(at)
    assert at.number_input(key="patient.age").value == EXAMPLE_PATIENT["age"]
    assert at.selectbox(key="patient.work_type").value == EXAMPLE_PATIENT["work_type"]
    assert at.text_input(key="patient.reference").value == "JS"
    at.run()  # any later rerun keeps them too
    assert at.number_input(key="patient.bmi").value == EXAMPLE_PATIENT["bmi"]


def test_a_hanging_service_is_reported_as_too_slow(app, silent_service_url):
    at = submit(fill_patient_form(app(silent_service_url, read_timeout=0.5)))
    assert texts(at.error) == NOT_ANSWERING
    assert "did not answer within 0.5 seconds" in technical_details(at)


@pytest.mark.slow
def test_a_patient_beyond_the_data_is_marked_so_on_screen(app, service_url):
    """Age 95 and glucose 400 mg/dL (the data stop at 82 years and 272 mg/dL): the GP sees
    the estimate marked as extrapolated in the headline, the band and a warning, and the
    interval by its name."""
    patient = {**EXAMPLE_PATIENT, "age": 95.0, "avg_glucose_level": 400.0}
    at = submit(fill_patient_form(app(service_url), patient))
    assert not at.exception and not at.error
    expected = StrokeRiskClient(service_url).assess(patient)
    assert expected.beyond_data
    markdown = texts(at.markdown)
    assert f"**{expected.outcome.headline}, beyond the data: extrapolated**" in markdown
    assert re.search(r"band \([^)]*\), beyond the data: extrapolated", markdown)  # the badge
    assert expected.beyond_data_note in texts(at.warning)
    assert expected.interval_name in texts(at.caption)
    shown = texts(at.markdown) + texts(at.caption) + texts(at.warning)
    assert not future_risk_claims(shown), future_risk_claims(shown)


@pytest.mark.slow
def test_a_refused_key_is_said_plainly(app, keyed_service_url):
    at = submit(fill_patient_form(app(keyed_service_url, api_key="wrong-key")))
    assert texts(at.error) == KEY_REFUSED
    assert "refused the API key" in technical_details(at)
    assert at.number_input(key="patient.age").value == EXAMPLE_PATIENT["age"]


@pytest.mark.slow
def test_the_key_can_come_from_streamlit_secrets(app, keyed_service_url):
    at = app(keyed_service_url, secrets={"STROKE_API_KEY": APP_API_KEY})
    at = submit(fill_patient_form(at))
    assert not at.error
    assert at.metric[0].label == "Stroke history"
    assert "**Stroke history among similar adults" in texts(at.markdown)


def bad_upload(data_path) -> pd.DataFrame:
    upload = sample_upload(data_path, rows=12)
    upload.loc[3, "age"] = "abc"  # file line 5
    upload.loc[6, "smoking_status"] = "vapes"  # file line 8
    return upload


@pytest.mark.slow
def test_an_upload_is_ranked_and_bad_rows_are_named_not_fatal(app, service_url, data_path):
    upload = bad_upload(data_path)
    at = app(service_url)
    at.file_uploader(key="batch.file").set_value(
        ("clinic.csv", upload.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert not at.exception and not at.error
    warning = texts(at.warning)
    assert "2 of 12 rows could not be scored" in warning
    assert "line 5 (id " in warning and "column 'age'" in warning
    assert "line 8 (id " in warning and "column 'smoking_status'" in warning
    assert "Scored 10 patients" in texts(at.success)
    # The worklist says what it ranks: a stroke history, not a future risk.
    assert "not by a future risk" in texts(at.success)
    assert [m.label.split(" (")[0] for m in at.metric] == ["High band", "Moderate band", "Low band"]
    assert not future_risk_claims(texts(at.success) + texts(at.markdown))
    problems, ranked = at.dataframe[0].value, at.dataframe[1].value
    assert list(problems["line"]) == [5, 8]
    assert len(ranked) == 10
    assert list(ranked["risk_percent"]) == sorted(ranked["risk_percent"], reverse=True)
    assert set(ranked["id"]) == set(upload["id"]) - {upload.loc[3, "id"], upload.loc[6, "id"]}
    downloads = [button.label for button in at.get("download_button")]
    assert "Download the scored CSV" in downloads


@pytest.mark.slow
def test_the_downloaded_csv_is_ranked_and_keeps_the_reference(service_url, data_path):
    upload = bad_upload(data_path)
    scored = score_patients_csv(
        io.StringIO(upload.to_csv(index=False)), StrokeRiskClient(service_url)
    )
    downloaded = pd.read_csv(io.BytesIO(scored_csv(scored.results)), dtype={"id": str})
    assert list(downloaded["rank"]) == list(range(1, 11))
    assert downloaded["probability"].is_monotonic_decreasing
    assert "stroke" not in downloaded.columns  # the label column of the data set is ignored
    first = load_patients_csv(io.StringIO(upload.head(1).to_csv(index=False)))
    direct = StrokeRiskClient(service_url).assess(patients_for_service(first.valid)[0])
    row = downloaded.set_index("id").loc[upload.loc[0, "id"]]
    assert row["line"] == 2
    assert row["probability"] == direct.probability


def test_an_upload_without_a_required_column_names_it(app, closed_port_url, data_path):
    upload = sample_upload(data_path, rows=3).drop(columns=["avg_glucose_level"])
    at = app(closed_port_url)  # refused before any call to the service
    at.file_uploader(key="batch.file").set_value(
        ("clinic.csv", upload.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert "This file cannot be used: missing column(s): avg_glucose_level" in texts(at.error)


def test_an_empty_upload_is_refused(closed_port_url):
    with pytest.raises(DataError, match="no patients"):
        score_patients_csv(
            io.StringIO(",".join(FEATURES) + "\n"), StrokeRiskClient(closed_port_url)
        )


@pytest.mark.slow
def test_an_upload_while_the_service_is_down_can_be_retried_once_it_is_up(
    app, closed_port_url, service_url, data_path, monkeypatch
):
    at = app(closed_port_url)
    at.file_uploader(key="batch.file").set_value(
        ("clinic.csv", sample_upload(data_path, 3).to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert texts(at.error) == NOT_ANSWERING
    assert "Cannot reach the prediction service" in technical_details(at)
    monkeypatch.setenv("STROKE_API_URL", service_url)  # the service is back
    at.button(key="batch.retry").click().run()
    assert not at.error
    assert "Scored 3 patients" in texts(at.success)
