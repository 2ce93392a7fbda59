"""The app's HTTP client against real servers: answers, chunks, and failures in plain words."""

from __future__ import annotations

import pytest
import requests

from stroke_risk.app.client import ServiceError, ServiceRejectedData, StrokeRiskClient
from stroke_risk.core.schema import categories
from tests.app.conftest import APP_API_KEY
from tests.conftest import EXAMPLE_PATIENT


def varied_patients(count: int) -> list[dict]:
    """Distinct patients (ages and smoking differ), so a mix-up in order would show."""
    smoking = categories("smoking_status")
    return [
        {**EXAMPLE_PATIENT, "age": float(20 + 7 * i), "smoking_status": smoking[i % len(smoking)]}
        for i in range(count)
    ]


@pytest.mark.slow
def test_one_patient_is_scored_by_the_service(service_url, stored_model):
    assessment = StrokeRiskClient(service_url).assess(EXAMPLE_PATIENT)
    assert 0 <= assessment.probability <= 1
    assert assessment.model_tag == stored_model.tag
    assert assessment.contributing_factors


@pytest.mark.slow
def test_many_patients_come_back_in_order_across_chunks(service_url):
    patients = varied_patients(7)
    progress = []
    client = StrokeRiskClient(service_url, max_batch_size=3)
    results = client.assess_many(patients, on_progress=lambda done, total: progress.append(done))
    assert progress == [3, 6, 7]
    one_by_one = [
        requests.post(f"{service_url}/predict", json=p, timeout=30).json()["probability"]
        for p in patients
    ]
    assert [r.probability for r in results] == one_by_one


@pytest.mark.slow
def test_rejected_rows_are_located_in_the_whole_upload_not_the_chunk(service_url):
    patients = varied_patients(5)
    patients[4]["age"] = 500.0  # in the second chunk of three
    with pytest.raises(ServiceRejectedData) as caught:
        StrokeRiskClient(service_url, max_batch_size=3).assess_many(patients)
    assert caught.value.detail[0]["loc"] == ["patients", 4, "age"]
    assert "patients[4].age" in str(caught.value)


def test_service_down_is_said_plainly(closed_port_url):
    with pytest.raises(ServiceError, match="Cannot reach the prediction service at") as caught:
        StrokeRiskClient(closed_port_url).assess(EXAMPLE_PATIENT)
    assert closed_port_url in str(caught.value)
    assert "STROKE_API_URL" in str(caught.value)


def test_a_hanging_service_times_out_with_a_plain_message(silent_service_url):
    client = StrokeRiskClient(silent_service_url, read_timeout=0.5)
    with pytest.raises(ServiceError, match=r"did not answer within 0\.5 seconds"):
        client.assess(EXAMPLE_PATIENT)


@pytest.mark.slow
def test_a_wrong_key_is_refused_in_plain_words(keyed_service_url):
    with pytest.raises(ServiceError, match="refused the API key"):
        StrokeRiskClient(keyed_service_url, api_key="not-the-key").assess(EXAMPLE_PATIENT)


@pytest.mark.slow
def test_a_missing_key_says_one_is_needed(keyed_service_url):
    with pytest.raises(ServiceError, match="needs an API key. Set STROKE_API_KEY"):
        StrokeRiskClient(keyed_service_url).assess(EXAMPLE_PATIENT)


@pytest.mark.slow
def test_the_right_key_is_sent_as_a_bearer_token(keyed_service_url):
    client = StrokeRiskClient(keyed_service_url, api_key=APP_API_KEY)
    assert client.assess(EXAMPLE_PATIENT).probability > 0
    assert len(client.assess_many(varied_patients(2))) == 2


@pytest.mark.slow
def test_a_url_that_is_not_the_service_is_named(service_url):
    with pytest.raises(ServiceError, match="check that STROKE_API_URL points to the stroke-risk"):
        StrokeRiskClient(f"{service_url}/not-here").assess(EXAMPLE_PATIENT)
