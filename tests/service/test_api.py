"""The HTTP API against a real `bentoml serve`: good answers, clear refusals, no leaks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from stroke_risk.assessment.bands import risk_band
from stroke_risk.core.config import Settings
from stroke_risk.core.schema import ADULT_AGE, FEATURES
from tests.conftest import EXAMPLE_PATIENT

pytestmark = pytest.mark.slow


def post(url: str, path: str, body, **kwargs) -> requests.Response:
    return requests.post(f"{url}{path}", json=body, timeout=60, **kwargs)


def error_locations(reply: requests.Response) -> list[list]:
    return [detail["loc"] for detail in reply.json()["detail"]]


def test_one_patient_gets_an_explained_calibrated_risk(service_url, stored_model):
    reply = post(service_url, "/predict", EXAMPLE_PATIENT)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert 0 <= result["probability"] <= 1
    assert result["percent"] == pytest.approx(100 * result["probability"], abs=0.06)
    assert result["risk_band"] in {"low", "moderate", "high"}
    assert result["model_tag"] == stored_model.tag
    assert "not a diagnosis" in result["disclaimer"]
    assert {f["factor"] for f in result["contributing_factors"]} <= set(FEATURES)
    assert result["comparison"]["group"] == "Female, 40-49"
    assert result["comparison"]["patients"] > 0
    low, high = result["probability_interval"]
    assert low <= result["probability"] <= high
    assert "year-old" in result["reference_patient"]["description"]
    # Glucose 112.98 is above normal, but within the under-140 range these data show no
    # effect of glucose (the evidence saved with the model): no what-if. BMI 37.2 is above
    # the healthy range, but these data cannot estimate BMI's effect: guidance.
    assert result["what_if"] == []
    assert {g["factor"] for g in result["guidance"]} == {"bmi"}
    for what_if in result["what_if"]:
        assert what_if["absolute_reduction"] == pytest.approx(
            result["probability"] - what_if["probability"], abs=2e-4
        )


def test_the_service_gives_the_trained_pipelines_numbers(service_url, stored_model, stroke_data):
    """Every adult of the data set (the intended population), in one batch."""
    adults = stroke_data[stroke_data["age"] >= ADULT_AGE]
    patients = adults[list(FEATURES)].astype(object)
    patients = patients.where(patients.notna(), None).to_dict(orient="records")
    reply = post(service_url, "/predict_batch", {"patients": patients})
    assert reply.status_code == 200, reply.text[:500]
    served = np.array([r["probability"] for r in reply.json()["results"]])
    # Smoking not recorded is scored as the commonest known status among the adults (no
    # learned "not recorded" effect); everything else exactly as recorded.
    known = adults.loc[adults["smoking_status"] != "Unknown", "smoking_status"]
    scored = adults.replace({"smoking_status": {"Unknown": known.mode().iloc[0]}})
    expected = stored_model.pipeline.predict_proba(scored[list(FEATURES)])[:, 1]
    assert len(served) == len(adults) > 4000
    np.testing.assert_allclose(served, expected, rtol=0, atol=6e-5)  # rounded to 4 decimals


def test_a_patient_under_18_is_refused_naming_age(service_url):
    reply = post(service_url, "/predict", {**EXAMPLE_PATIENT, "age": 17.9})
    assert reply.status_code == 400, reply.text
    assert error_locations(reply) == [["age"]]
    assert "under 18 are not scored" in reply.json()["error"]


def test_one_child_in_a_batch_is_named_by_its_position(service_url):
    patients = [EXAMPLE_PATIENT, {**EXAMPLE_PATIENT, "age": 0.08}]
    reply = post(service_url, "/predict_batch", {"patients": patients})
    assert reply.status_code == 400
    assert error_locations(reply) == [["patients", 1, "age"]]


def test_a_batch_answers_in_the_order_given(service_url):
    patients = [
        {**EXAMPLE_PATIENT, "age": age, "smoking_status": smoking}
        for age, smoking in [(80.0, "smokes"), (20.0, "never smoked"), (55.0, "Unknown")]
    ]
    batch = post(service_url, "/predict_batch", {"patients": patients}).json()["results"]
    singles = [post(service_url, "/predict", patient).json() for patient in patients]
    assert batch == singles
    assert [g["factor"] for g in batch[0]["guidance"]] == ["smoking_status", "bmi"]


def test_lenient_spellings_give_the_same_answer(service_url):
    sloppy = {
        **EXAMPLE_PATIENT,
        "work_type": "govt job",
        "ever_married": "yes",
        "gender": "FEMALE",
        "residence_type": "rural",
        "hypertension": False,
    }
    assert (
        post(service_url, "/predict", sloppy).json()
        == post(service_url, "/predict", EXAMPLE_PATIENT).json()
    )


# Adults from low to high risk: every band is reached with the default thresholds.
ADULTS = [
    {**EXAMPLE_PATIENT, "age": age, "hypertension": sick, "heart_disease": sick}
    for age in (20.0, 35.0, 50.0, 60.0, 70.0, 80.0, 90.0)
    for sick in (0, 1)
]


def served_bands(results: list[dict], thresholds: tuple[float, float]) -> list[tuple[str, str]]:
    """(served band, band of the served probability) for each result, leaving out the few
    whose 4-decimal probability is too close to a threshold to tell."""
    return [
        (result["risk_band"], risk_band(result["probability"], thresholds))
        for result in results
        if min(abs(result["probability"] - t) for t in thresholds) > 1e-4
    ]


def test_the_served_band_is_the_probabilitys_band_under_the_default_thresholds(service_url):
    default = tuple(Settings().risk_band_thresholds)
    results = post(service_url, "/predict_batch", {"patients": ADULTS}).json()["results"]
    bands = served_bands(results, default)
    assert len(bands) >= len(ADULTS) - 2
    assert all(served == expected for served, expected in bands), bands
    assert {served for served, _ in bands} == {"low", "moderate", "high"}


def test_a_sex_too_rare_in_training_is_compared_with_both_sexes_and_warned_about(service_url):
    """Training has one patient of sex 'Other': fewer than MIN_PEERS."""
    result = post(service_url, "/predict", {**EXAMPLE_PATIENT, "gender": "Other"}).json()
    assert result["comparison"]["group"] == "all sexes, 40-49"
    rare = "gender 'Other' is rare in the training data"
    assert any(warning.startswith(rare) for warning in result["warnings"])
    usual = post(service_url, "/predict", EXAMPLE_PATIENT).json()
    assert usual["comparison"]["group"] == "Female, 40-49"
    assert not any("rare" in warning for warning in usual["warnings"])


def test_out_of_training_range_inputs_are_scored_with_a_warning(service_url):
    result = post(service_url, "/predict", {**EXAMPLE_PATIENT, "age": 95.0}).json()
    assert any("age 95" in warning and "outside" in warning for warning in result["warnings"])


def test_a_blank_bmi_is_scored_with_a_warning_and_no_bmi_what_if(service_url):
    result = post(service_url, "/predict", {**EXAMPLE_PATIENT, "bmi": None}).json()
    assert any("BMI not measured" in warning for warning in result["warnings"])
    assert "bmi" not in {w["factor"] for w in result["what_if"]}


BAD_PATIENTS = {
    "missing field": ({k: v for k, v in EXAMPLE_PATIENT.items() if k != "age"}, ["age"]),
    "wrong type": ({**EXAMPLE_PATIENT, "age": "forty"}, ["age"]),
    "out of range": ({**EXAMPLE_PATIENT, "avg_glucose_level": 5000}, ["avg_glucose_level"]),
    "unknown category": ({**EXAMPLE_PATIENT, "work_type": "Astronaut"}, ["work_type"]),
    "extra field": ({**EXAMPLE_PATIENT, "cholesterol": 5}, ["cholesterol"]),
    "null where not allowed": ({**EXAMPLE_PATIENT, "hypertension": None}, ["hypertension"]),
    "flag out of range": ({**EXAMPLE_PATIENT, "heart_disease": 2}, ["heart_disease"]),
}


@pytest.mark.parametrize("case", BAD_PATIENTS, ids=list(BAD_PATIENTS))
def test_bad_input_is_refused_naming_the_field(service_url, case):
    body, fields = BAD_PATIENTS[case]
    reply = post(service_url, "/predict", body)
    assert reply.status_code == 400, reply.text
    assert error_locations(reply) == [[field] for field in fields]
    assert "Traceback" not in reply.text


def test_glucose_25_is_refused_naming_mmol_per_l(service_url):
    """25 is a mmol/L value sent as mg/dL: scored, it came out "low"; now a 400 naming
    both units, for one patient and for a batch."""
    bad = {**EXAMPLE_PATIENT, "avg_glucose_level": 25.0}
    single = post(service_url, "/predict", bad)
    batch = post(service_url, "/predict_batch", {"patients": [EXAMPLE_PATIENT, bad]})
    for reply, where in (
        (single, ["avg_glucose_level"]),
        (batch, ["patients", 1, "avg_glucose_level"]),
    ):
        assert reply.status_code == 400, reply.text
        assert error_locations(reply) == [where]
        assert "mmol/L" in reply.json()["error"] and "mg/dL" in reply.json()["error"]


def test_a_refusal_says_in_one_sentence_what_is_wrong(service_url):
    body = {k: v for k, v in EXAMPLE_PATIENT.items() if k != "smoking_status"}
    reply = post(service_url, "/predict", {**body, "age": 142.0, "work_type": "Govt"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error.startswith("invalid input, 3 problems: age: Input should be less than or")
    assert "work_type: Input should be 'Private', 'Self-employed', 'Govt_job'" in error
    assert "smoking_status: Field required" in error
    assert "IODescriptor" not in reply.text


def test_refusals_name_the_allowed_values_and_ranges(service_url):
    reply = post(service_url, "/predict", {**EXAMPLE_PATIENT, "smoking_status": "a bit"})
    assert "'never smoked', 'formerly smoked', 'smokes' or 'Unknown'" in reply.text
    reply = post(service_url, "/predict", {**EXAMPLE_PATIENT, "age": 130})
    assert "less than or equal to 120" in reply.text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(service_url, literal):
    body = json.dumps({**EXAMPLE_PATIENT, "age": "AGE"}).replace('"AGE"', literal)
    reply = requests.post(
        f"{service_url}/predict",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400, reply.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b"this is not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b"gender=Female&age=42", "application/x-www-form-urlencoded", 415),
        (b"<patient/>", "application/xml", 415),
        (b"{}", "application/vnd.bentoml+pickle", 415),
    ],
    ids=["empty body", "not json", "json array", "form encoded", "xml", "pickle"],
)
def test_malformed_requests_get_a_client_error(service_url, body, content_type, status):
    reply = requests.post(
        f"{service_url}/predict", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert "error" in reply.text and "Traceback" not in reply.text


def test_a_batch_names_the_index_of_each_bad_patient(service_url):
    patients = [
        EXAMPLE_PATIENT,
        {**EXAMPLE_PATIENT, "age": -1},
        EXAMPLE_PATIENT,
        {**EXAMPLE_PATIENT, "gender": "?"},
    ]
    reply = post(service_url, "/predict_batch", {"patients": patients})
    assert reply.status_code == 400
    assert error_locations(reply) == [["patients", 1, "age"], ["patients", 3, "gender"]]
    assert "patients[1].age: " in reply.json()["error"]
    # The contract, in the body too: all or nothing.
    assert "No patient was scored: a batch is all or nothing" in reply.json()["error"]
    assert not any(error["msg"].startswith("Value error, ") for error in reply.json()["detail"])


def test_an_empty_or_over_long_batch_is_refused(service_url):
    assert post(service_url, "/predict_batch", {"patients": []}).status_code == 400
    reply = post(service_url, "/predict_batch", {"patients": [EXAMPLE_PATIENT] * 10_001})
    assert reply.status_code == 400
    assert "at most 10000" in reply.text


def test_a_very_large_body_is_refused_before_it_is_parsed(service_url):
    reply = requests.post(
        f"{service_url}/predict_batch",
        data=b" " * (9 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 413
    assert "smaller requests" in reply.json()["error"]


def test_health_endpoints_and_metrics(service_url):
    assert requests.get(f"{service_url}/livez", timeout=5).status_code == 200
    assert requests.get(f"{service_url}/readyz", timeout=5).status_code == 200
    post(service_url, "/predict", EXAMPLE_PATIENT)
    metrics = requests.get(f"{service_url}/metrics", timeout=5).text
    assert "bentoml_service_request_total" in metrics
    assert 'endpoint="/predict"' in metrics


def test_the_openapi_document_describes_the_patient(service_url):
    spec = requests.get(f"{service_url}/docs.json", timeout=10).json()
    assert {"/predict", "/predict_batch"} <= set(spec["paths"])
    patient = spec["components"]["schemas"]["Patient"]
    # The data's own spellings first; other spellings accepted too, as the service does.
    listed, other = patient["properties"]["work_type"]["anyOf"]
    assert other["type"] == "string" and "spelling" in other["description"]
    assert listed["enum"] == [
        "Private",
        "Self-employed",
        "Govt_job",
        "children",
        "Never_worked",
    ]
    assert patient["properties"]["avg_glucose_level"]["x-unit"] == "mg/dL"
    assert set(patient["required"]) == set(FEATURES)
    assert patient["example"] == EXAMPLE_PATIENT
    swagger = requests.get(f"{service_url}/", timeout=10)
    assert swagger.status_code == 200 and "swagger" in swagger.text.lower()


def test_patient_values_never_reach_the_logs(service):
    start = service.log_size()
    marker_glucose = 123.4567
    post(service.url, "/predict", {**EXAMPLE_PATIENT, "avg_glucose_level": marker_glucose})
    post(
        service.url, "/predict", {**EXAMPLE_PATIENT, "work_type": "SecretJobTitle", "bmi": 77.7777}
    )
    post(
        service.url,
        "/predict_batch",
        {"patients": [{**EXAMPLE_PATIENT, "avg_glucose_level": 999999.25}]},
    )
    service.log_since(start, "/predict_batch")  # the access log has these requests ...
    log = service.log()
    # Each marker holds a character no trace, span or request id (hex digits) can: a bare
    # "999999" once matched a span id of another request in the log.
    for value in ("123.4567", "SecretJobTitle", "77.7777", "999999.25"):
        assert value not in log  # ... but no patient value is
