"""A patient-view call without (complete) prefetch: the service reads the record from the
EHR's FHIR server (fhirpy), with the EHR's access token and within a timeout."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from stroke_risk.core.config import Settings
from stroke_risk.fhir.routes import build_app
from tests.fhir.builders import example
from tests.fhir.fhir_server import FhirServerState, fhir_server
from tests.fhir.test_cds_hooks import hook_request, prefetch_of

PATIENT_ID = "7c1b5d2e-0d59-4b4c-9f0e-1c2f8a6c9b01"
TOKEN = "ehr-access-token"


def record() -> list[dict]:
    """The Synthea-style patient, plus another patient's glucose the search must not return."""
    resources = [entry["resource"] for entry in example("synthea-style-bundle.json")["entry"]]
    other = {
        **resources[3],
        "id": "someone-else",
        "subject": {"reference": "Patient/other"},
        "valueQuantity": {**resources[3]["valueQuantity"], "value": 400},
    }
    return [*resources, other]


@pytest.fixture(scope="module")
def client(assessor) -> TestClient:
    settings = Settings(fhir_fetch_timeout=2.0, cds_fhir_servers=["http://127.0.0.1:"])
    return TestClient(build_app(lambda: assessor, settings))


def hook_without_prefetch(url: str, token: str = TOKEN, prefetch=None) -> dict:
    body = hook_request(
        prefetch,
        fhirServer=url,
        fhirAuthorization={
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        },
    )
    body["context"]["patientId"] = PATIENT_ID
    return body


def summary(client: TestClient, body: dict) -> str:
    reply = client.post("/cds-services/stroke-risk", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["cards"][0]["summary"]


def test_without_prefetch_the_record_is_fetched_and_scored_as_with_prefetch(client) -> None:
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        fetched = summary(client, hook_without_prefetch(url))
    prefetched = summary(client, hook_request(prefetch_of(example("synthea-style-bundle.json"))))
    assert fetched == prefetched and "%" in fetched
    assert any(path.startswith(f"/Patient/{PATIENT_ID}") for path in state.requests)
    assert any(path.startswith("/Observation?") and "patient=" in path for path in state.requests)


def test_only_the_missing_prefetch_keys_are_fetched(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    del prefetch["conditions"]
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        assert "%" in summary(client, hook_without_prefetch(url, prefetch=prefetch))
    assert [p.split("?")[0] for p in state.requests] == ["/Condition"]


def test_a_refused_access_token_gives_an_info_card(client) -> None:
    with fhir_server(FhirServerState(record(), TOKEN)) as url:
        text = summary(client, hook_without_prefetch(url, token="wrong"))
    assert "could not be read" in text and "%" not in text


def test_a_server_slower_than_the_timeout_gives_an_info_card(client) -> None:
    with fhir_server(FhirServerState(record(), TOKEN, delay=3.0)) as url:
        text = summary(client, hook_without_prefetch(url))
    assert "did not answer within 2 s" in text


def test_an_unreachable_server_gives_an_info_card(client) -> None:
    with fhir_server(FhirServerState([], TOKEN)) as url:
        pass  # stopped: nothing listens there any more
    assert "could not be read" in summary(client, hook_without_prefetch(url))


def test_an_unlisted_server_is_never_called_for_an_unauthenticated_caller(assessor) -> None:
    """No allow-list and no JWT issuers: the service must not fetch any URL it is given."""
    unlisted = TestClient(build_app(lambda: assessor, Settings()))
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        text = summary(unlisted, hook_without_prefetch(url))
    assert "may not read from that fhirServer" in text and state.requests == []
