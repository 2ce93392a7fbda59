"""POST /fhir/risk-assessment on the real service: a valid RiskAssessment, or an
OperationOutcome that names the resource and element, never a 5xx."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.riskassessment import RiskAssessment
from pydantic import ValidationError

from stroke_risk.core.schema import FEATURES, Patient
from stroke_risk.fhir.estimate import most_common
from stroke_risk.fhir.mapping import map_bundle
from tests.fhir.builders import (
    about,
    bundle,
    example,
    field_observation,
    observation,
    patient,
    row_bundle,
)
from tests.fhir.conftest import with_outcome
from tests.wording import INCIDENT_5_YEARS, future_risk_claims

pytestmark = pytest.mark.slow
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def post(url: str, body, headers=FHIR_JSON) -> requests.Response:
    return requests.post(f"{url}/fhir/risk-assessment", json=body, headers=headers, timeout=30)


def recent_patient(**kwargs):
    return bundle(
        patient(**kwargs),
        observation("2345-7", 105, "mg/dL", dt.date.today().isoformat()),
        observation("39156-5", 28.4, "kg/m2", dt.date.today().isoformat()),
    )


def test_a_synthea_style_bundle_gets_a_valid_risk_assessment_equal_to_predict(
    service_url, assessor
) -> None:
    body = example("synthea-style-bundle.json")
    reply = post(service_url, body)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/fhir+json")
    resource = RiskAssessment.model_validate(reply.json())
    assert resource.status == "final"
    assert resource.subject.reference == "Patient/7c1b5d2e-0d59-4b4c-9f0e-1c2f8a6c9b01"
    prediction = resource.prediction[0]
    assert prediction.outcome.coding[0].code == "230690007"
    assert prediction.qualitativeRisk.coding[0].system == (
        "http://terminology.hl7.org/CodeSystem/risk-probability"
    )
    # The same patient through /predict, with the unrecorded fields at their most common.
    mapped = map_bundle(body, dt.date.today())
    patient_json = {**mapped.values, **{f: most_common(assessor, f) for f in mapped.unrecorded}}
    predicted = requests.post(f"{service_url}/predict", json=patient_json, timeout=30).json()
    assert float(prediction.probabilityDecimal) == predicted["probability"]
    assert float(prediction.relativeRisk) == predicted["comparison"]["relative_risk"]
    # Every value is traceable: the basis lists each resource read, the rationale names them.
    basis = {b.reference for b in resource.basis}
    assert {s.resource for s in mapped.sources if s.resource} <= basis
    assert "Observation/4d5e6f70-8192-4a3b-bc4d-5e6f70819207" in prediction.rationale
    assert resource.method.coding[0].code == predicted["model_tag"]


def test_the_shipped_model_predicts_a_stroke_history_with_no_window_and_says_so(
    service_url,
) -> None:
    reply = post(service_url, example("synthea-style-bundle.json")).json()
    for prediction in reply["prediction"]:
        assert prediction["outcome"]["text"] == (
            "History of stroke (cross-sectional label; not a future stroke)"
        )
        assert "whenPeriod" not in prediction and "whenRange" not in prediction
    notes = [note["text"] for note in reply["note"]]
    assert notes[0].startswith(
        "Outcome: stroke history among similar adults in the data (not a future risk). "
        "Not a prospective risk"
    )
    assert notes[0].endswith(f"Model card: {service_url}/model-card")
    words = " ".join([*notes, *(p.get("rationale", "") for p in reply["prediction"])])
    assert not future_risk_claims(words), future_risk_claims(words)


def test_an_incident_models_prediction_has_its_horizon_as_when_range(assessor) -> None:
    from starlette.testclient import TestClient

    from stroke_risk.core.config import Settings
    from stroke_risk.fhir.routes import build_app

    incident = with_outcome(assessor, INCIDENT_5_YEARS)
    client = TestClient(build_app(lambda: incident, Settings()))
    reply = client.post("/fhir/risk-assessment", json=example("synthea-style-bundle.json"))
    assert reply.status_code == 200, reply.text
    resource = reply.json()
    RiskAssessment.model_validate(resource)
    prediction = resource["prediction"][0]
    assert prediction["outcome"]["text"] == "Stroke within 5 years"
    assert prediction["whenRange"]["high"] == {
        "value": 5,
        "unit": "years",
        "system": "http://unitsofmeasure.org",
        "code": "a",
    }
    assert resource["note"][0]["text"].startswith("Outcome: 5-year risk of stroke.")
    assert "Not a prospective risk" not in resource["note"][0]["text"]


def test_unrecorded_work_and_residence_give_a_range_as_a_second_prediction(service_url) -> None:
    reply = post(service_url, example("synthea-style-bundle.json")).json()
    ranges = [p for p in reply["prediction"] if "probabilityRange" in p]
    assert ranges and "work_type" in ranges[-1]["rationale"]
    low, high = (
        ranges[-1]["probabilityRange"]["low"]["value"],
        ranges[-1]["probabilityRange"]["high"]["value"],
    )
    # The range is in UCUM percent (invariant ras-2), the point a fraction: one scale apart.
    assert ranges[-1]["probabilityRange"]["low"]["code"] == "%"
    assert low <= round(100 * reply["prediction"][0]["probabilityDecimal"], 1) <= high


@pytest.mark.parametrize(
    "content_type", ["application/fhir+json", "application/json; charset=utf-8"]
)
def test_both_json_media_types_are_accepted(service_url, content_type: str) -> None:
    reply = post(service_url, recent_patient(), {"Content-Type": content_type})
    assert reply.status_code == 200, reply.text


def test_another_media_type_is_refused_with_415(service_url) -> None:
    reply = requests.post(
        f"{service_url}/fhir/risk-assessment",
        data="<Bundle/>",
        headers={"Content-Type": "application/fhir+xml"},
        timeout=30,
    )
    assert reply.status_code == 415


def test_an_invalid_observation_is_an_operation_outcome_naming_entry_and_element(
    service_url,
) -> None:
    broken = observation("2345-7", 90, "mg/dL", "2026-01-01")
    broken["valueQuantity"]["value"] = "ninety"
    reply = post(service_url, bundle(patient(), broken))
    assert reply.status_code == 400
    outcome = OperationOutcome.model_validate(reply.json())
    assert outcome.issue[0].expression == [
        "Bundle.entry[1].resource (Observation).valueQuantity.value"
    ]


@pytest.mark.parametrize("body", [{"resourceType": "Patient", "id": "x"}, [1, 2], "text"])
def test_a_body_that_is_not_a_bundle_is_a_4xx_operation_outcome(service_url, body) -> None:
    reply = post(service_url, body)
    assert 400 <= reply.status_code < 500
    assert reply.json()["resourceType"] == "OperationOutcome"


def test_missing_sex_is_a_422_naming_patient_gender(service_url) -> None:
    reply = post(service_url, recent_patient(gender="unknown"))
    assert reply.status_code == 422
    assert reply.json()["issue"][0]["expression"] == ["Patient.gender"]


def test_missing_glucose_is_a_422_that_suggests_measuring_it(service_url) -> None:
    reply = post(service_url, bundle(patient()))
    assert reply.status_code == 422
    assert "measure it" in reply.json()["issue"][0]["diagnostics"]


def test_a_recorded_stroke_gets_no_probability_but_says_why(service_url) -> None:
    resources = [entry["resource"] for entry in recent_patient()["entry"]]
    stroke = about(resources[0], example("hl7-r4/condition-example-stroke.json"))
    reply = post(service_url, bundle(*resources, stroke))
    assert reply.status_code == 200
    prediction = reply.json()["prediction"][0]
    assert "probabilityDecimal" not in prediction
    assert "stroke or TIA recorded on 2010-07-18" in prediction["rationale"]


def test_a_child_is_answered_as_predict_answers_it(service_url) -> None:
    """Both refuse a child (422 naming Patient.birthDate) once the schema is adults-only,
    or both score it the same."""
    birth = (dt.date.today() - dt.timedelta(days=12 * 366)).isoformat()
    fhir = post(service_url, recent_patient(birth=birth, marital="S"))
    assert fhir.status_code in (200, 422), fhir.text
    if fhir.status_code == 422:
        assert fhir.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    else:
        assert "probabilityDecimal" in fhir.json()["prediction"][0]


def test_every_data_set_row_round_trips_to_the_probability_of_predict(
    service_url, stroke_data
) -> None:
    """5,110 bundles, each posted; /predict_batch scores the same rows in batches.

    Rows the patient schema refuses (children, once the service is adults-only) are not
    sent to /predict_batch, which would refuse the whole batch: their bundles must get a
    422 OperationOutcome naming Patient.birthDate instead.
    """
    today = dt.date.today()  # the server's clock: ages and windows are computed on it
    today = today.replace(day=min(today.day, 28))
    rows = (
        stroke_data[list(FEATURES)].astype(object).where(stroke_data[list(FEATURES)].notna(), None)
    )
    records = rows.to_dict("records")
    scorable = []
    for record in records:
        try:
            Patient.model_validate(record)
            scorable.append(True)
        except ValidationError:
            scorable.append(False)
    accepted = [record for record, ok in zip(records, scorable, strict=True) if ok]
    predicted: list[float] = []
    for start in range(0, len(accepted), 1000):
        chunk = accepted[start : start + 1000]
        reply = requests.post(f"{service_url}/predict_batch", json={"patients": chunk}, timeout=60)
        assert reply.status_code == 200, reply.text[:500]
        predicted += [r["probability"] for r in reply.json()["results"]]
    answers = iter(predicted)
    expected = [next(answers) if ok else "refused" for ok in scorable]
    local = threading.local()

    def fhir_probability(record) -> float | str:
        body = row_bundle(record, today)
        if not hasattr(local, "session"):
            local.session = requests.Session()
        reply = local.session.post(
            f"{service_url}/fhir/risk-assessment", json=body, headers=FHIR_JSON, timeout=30
        )
        if reply.status_code == 422:
            assert reply.json()["issue"][0]["expression"] == ["Patient.birthDate"], reply.text
            return "refused"
        assert reply.status_code == 200, reply.text[:500]
        return reply.json()["prediction"][0]["probabilityDecimal"]

    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(fhir_probability, records))
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert len(got) == 5110 and len(predicted) > 4000
    assert mismatches == [], f"{len(mismatches)} rows differ, first {mismatches[:5]}"


def test_a_work_type_the_schema_refuses_is_a_422_naming_its_observation(service_url) -> None:
    resources = [entry["resource"] for entry in recent_patient()["entry"]]
    reply = post(service_url, bundle(*resources, field_observation("work_type", "Astronaut")))
    assert reply.status_code == 422
    issue = reply.json()["issue"][0]
    assert issue["expression"] == ["Observation (urn:stroke-risk:field|work_type)"]
    assert "work_type" in issue["diagnostics"]
