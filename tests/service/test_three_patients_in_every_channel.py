"""Three patients through every channel, end to end: each shows the interval by its name,
the band-edge flag and the beyond-the-data state exactly when the service's reply has them.

A typical 60-year-old; an 81-year-old whose interval crosses a band edge; a 95-year-old
with an average glucose of 400 mg/dL (beyond the data's 82 years and 272 mg/dL: replied to,
marked extrapolated). The API, the FHIR RiskAssessment and the CDS card are called on the
real service; the app's words, the handout and the worklists are built from its replies
(the app shows the reply it receives; the population job runs the service's own assessor).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
import pytest
import requests
from pypdf import PdfReader

from stroke_risk.app.batch import score_patients_csv
from stroke_risk.app.client import StrokeRiskClient
from stroke_risk.app.summary_pdf import handout_sections, summary_pdf
from stroke_risk.app.views import (
    band_text,
    headline_label,
    interval_caption,
    reply_flags,
    worklist_caption,
)
from stroke_risk.core.reply_flags import (
    BEYOND_THE_DATA,
    PATIENT_BAND_NOT_SETTLED,
    PATIENT_BEYOND_THE_DATA,
)
from stroke_risk.core.responses import INTERVAL_NAME, Assessment
from stroke_risk.core.schema import FEATURES
from tests.fhir.builders import bundle, row_bundle
from tests.readability import flesch_kincaid_grade
from tests.wording import future_risk_claims

pytestmark = pytest.mark.slow

TYPICAL_60 = {
    "gender": "Female",
    "age": 60.0,
    "hypertension": 0,
    "heart_disease": 0,
    "ever_married": "Yes",
    "work_type": "Private",
    "residence_type": "Urban",
    "avg_glucose_level": 91.9,
    "bmi": 28.1,
    "smoking_status": "never smoked",
}
AGE_95_GLUCOSE_400 = {**TYPICAL_60, "age": 95.0, "avg_glucose_level": 400.0}
BAND_BROKEN = "band not settled"


def fold(text: str) -> str:
    return " ".join(text.split())


def predict_many(url: str, patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reply = requests.post(f"{url}/predict_batch", json={"patients": patients}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


@pytest.fixture(scope="module")
def three(service_url) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, patient, the service's reply) for the three patients."""
    candidates = [
        {
            **TYPICAL_60,
            "age": 81.0,
            "gender": gender,
            "hypertension": hypertension,
            "avg_glucose_level": glucose,
        }
        for gender in ("Female", "Male")
        for hypertension in (0, 1)
        for glucose in (70.0, 90.0, 110.0, 150.0, 200.0, 240.0)
    ]
    replies = predict_many(service_url, candidates)
    crossing = [
        (patient, reply)
        for patient, reply in zip(candidates, replies, strict=True)
        if reply["interval_crosses_band_edge"]
    ]
    assert crossing, "no 81-year-old of the grid has an interval across a band edge"

    def distance_to_an_edge(pair):
        probability = pair[1]["probability"]
        return min(abs(probability - edge) for edge in pair[1]["risk_band_thresholds"])

    near_edge = min(crossing, key=distance_to_an_edge)[0]
    patients = [TYPICAL_60, near_edge, AGE_95_GLUCOSE_400]
    names = ["typical 60", "81 near a band edge", "95 with glucose 400"]
    replies = predict_many(service_url, patients)
    return list(zip(names, patients, replies, strict=True))


def test_the_api_replies_carry_the_three_states(three) -> None:
    (_, _, typical), (_, _, near), (_, _, beyond) = three
    for _, _, reply in three:
        assert reply["interval_name"] == INTERVAL_NAME
        assert reply["outcome"]["kind"] == "history"
    assert not typical["beyond_data"]
    assert near["interval_crosses_band_edge"] and not near["beyond_data"]
    assert beyond["beyond_data"]
    assert set(beyond["extrapolated_fields"]) == {"age", "avg_glucose_level"}


def test_the_app_shows_each_state_as_the_reply_has_it(three) -> None:
    for name, _, reply in three:
        assessment = Assessment.model_validate(reply)
        assert INTERVAL_NAME in interval_caption(assessment), name
        flags = " ".join(reply_flags(assessment))
        assert ("crosses a band edge" in flags) == reply["interval_crosses_band_edge"], name
        assert (reply["beyond_data_note"] or "~") in flags or not reply["beyond_data"], name
        for shown in (headline_label(assessment), band_text(assessment)):
            assert (BEYOND_THE_DATA in shown) == reply["beyond_data"], name
        assert not future_risk_claims(f"{headline_label(assessment)} {flags}"), name


def test_the_handout_shows_each_state_in_plain_words(three) -> None:
    for name, _, reply in three:
        assessment = Assessment.model_validate(reply)
        pdf = summary_pdf(assessment, model_card_url="http://127.0.0.1/model-card")
        text = fold(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
        assert fold(INTERVAL_NAME) in text, name  # the doctor's line names the interval
        assert (fold(PATIENT_BAND_NOT_SETTLED) in text) == reply["interval_crosses_band_edge"]
        assert (fold(PATIENT_BEYOND_THE_DATA) in text) == reply["beyond_data"], name
        assert not future_risk_claims(text), (name, future_risk_claims(text))
        body = " ".join(
            p.removeprefix("- ") for s in handout_sections(assessment) for p in s.paragraphs
        )
        assert flesch_kincaid_grade(body) <= 8, (name, body)


def fhir_bundle(patient: dict[str, Any]) -> dict[str, Any]:
    return row_bundle(patient, dt.date.today())


def test_the_risk_assessment_names_the_interval_and_notes_each_state(service_url, three):
    for name, patient, reply in three:
        answer = requests.post(
            f"{service_url}/fhir/risk-assessment",
            json=fhir_bundle(patient),
            headers={"Content-Type": "application/fhir+json"},
            timeout=30,
        )
        assert answer.status_code == 200, (name, answer.text)
        resource = answer.json()
        assert resource["prediction"][0]["probabilityDecimal"] == reply["probability"], name
        interval = resource["prediction"][1]
        assert interval["rationale"] == f"95% interval: {INTERVAL_NAME}", name
        notes = " ".join(note["text"] for note in resource["note"])
        assert ("crosses a band edge" in notes) == reply["interval_crosses_band_edge"], name
        assert (reply["beyond_data_note"] or "~") in notes or not reply["beyond_data"], name
        assert not future_risk_claims(notes), name


def test_the_cds_card_names_the_interval_and_flags_each_state(service_url, three):
    for name, patient, reply in three:
        resources = [entry["resource"] for entry in fhir_bundle(patient)["entry"]]
        by_type = {
            kind: bundle(*(r for r in resources if r["resourceType"] == kind), kind="searchset")
            for kind in ("Observation", "Condition")
        }
        chart_patient = next(r for r in resources if r["resourceType"] == "Patient")
        request = {
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"patientId": chart_patient["id"]},
            "prefetch": {
                "patient": chart_patient,
                "observations": by_type["Observation"],
                "fieldObservations": bundle(kind="searchset"),
                "conditions": by_type["Condition"],
            },
        }
        answer = requests.post(f"{service_url}/cds-services/stroke-risk", json=request, timeout=30)
        assert answer.status_code == 200, (name, answer.text)
        (card,) = answer.json()["cards"]
        assert card["indicator"] == "info", name
        assert len(card["summary"]) <= 140, name
        assert (BAND_BROKEN in card["summary"]) == reply["interval_crosses_band_edge"], name
        assert (BEYOND_THE_DATA in card["summary"]) == reply["beyond_data"], name
        # The interval by its name in the detail, apart from any range over unrecorded fields.
        assert f"95% interval ({INTERVAL_NAME})" in card["detail"], name
        assert "over unrecorded" not in card["summary"], name  # everything was recorded
        assert not future_risk_claims(card["summary"] + card["detail"]), name


def test_the_worklists_carry_each_state(service_url, three, tmp_path) -> None:
    """The app's upload (through the service) and the population job's scoring (the
    service's assessor, in process) flag the same patients."""
    import bentoml

    from stroke_risk.assessment.model_loading import load_assessor
    from stroke_risk.core.config import get_settings
    from stroke_risk.population.scoring import score_batch

    frame = pd.DataFrame([patient for _, patient, _ in three], columns=list(FEATURES))
    frame.insert(0, "id", [name for name, _, _ in three])
    upload = score_patients_csv(
        io.StringIO(frame.to_csv(index=False)), StrokeRiskClient(service_url)
    )
    app_rows = upload.results.set_index("id")
    assessor = load_assessor(bentoml.models.get(get_settings().model_tag), get_settings())
    population = score_batch(frame, assessor).set_index("id")
    for name, _, reply in three:
        for rows, edge, beyond in (
            (app_rows, "band_not_settled", "beyond_data"),
            (population, "interval_crosses_band_edge", "beyond_data"),
        ):
            assert bool(rows.loc[name, edge]) == reply["interval_crosses_band_edge"], name
            assert bool(rows.loc[name, beyond]) == reply["beyond_data"], name
        assert population.loc[name, "probability"] == pytest.approx(reply["probability"])
    assert INTERVAL_NAME in worklist_caption(upload)  # under the upload's table
