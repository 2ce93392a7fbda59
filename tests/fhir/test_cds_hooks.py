"""CDS Hooks 2.0 patient-view service, in process (the service's own Starlette routes
with the session's quick model) and, for /metrics, on the real service."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import requests
from starlette.testclient import TestClient

from stroke_risk.core.config import Settings
from stroke_risk.fhir.routes import build_app
from tests.fhir.builders import about, bundle, example, field_observation, observation
from tests.fhir.conftest import with_outcome
from tests.wording import INCIDENT_5_YEARS, INCIDENT_INTERNAL, SHIPPED, future_risk_claims

SETTINGS = Settings(
    model_card_url="https://example.org/model-card", app_url="https://example.org/app"
)


@pytest.fixture(scope="module")
def feedback_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def client(assessor, feedback_seen) -> TestClient:
    app = build_app(lambda: assessor, SETTINGS, count_feedback=feedback_seen.append)
    return TestClient(app)


def prefetch_of(collection: dict[str, Any]) -> dict[str, Any]:
    """A collection bundle split as the discovery document's prefetch templates ask."""
    resources = [entry["resource"] for entry in collection["entry"]]

    def of_type(kind):
        return bundle(*(r for r in resources if r["resourceType"] == kind), kind="searchset")

    return {
        "patient": next(r for r in resources if r["resourceType"] == "Patient"),
        "observations": of_type("Observation"),
        "fieldObservations": bundle(kind="searchset"),
        "conditions": of_type("Condition"),
    }


def hook_request(prefetch: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "7c1b5d2e"},
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
        if isinstance(prefetch.get("patient"), dict) and "id" in prefetch["patient"]:
            body["context"]["patientId"] = prefetch["patient"]["id"]  # the chart's patient
    return body


def test_discovery_lists_the_stroke_risk_patient_view_service_with_prefetch(client) -> None:
    reply = client.get("/cds-services")
    assert reply.status_code == 200
    (service,) = reply.json()["services"]
    assert (service["id"], service["hook"]) == ("stroke-risk", "patient-view")
    prefetch = service["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
    for code in ("2339-0", "15074-8", "39156-5", "29463-7", "8302-2", "72166-2"):
        assert f"http://loinc.org|{code}" in prefetch["observations"]


def test_a_full_request_with_prefetch_gets_one_card_with_the_estimate(client, assessor) -> None:
    reply = client.post(
        "/cds-services/stroke-risk",
        json=hook_request(prefetch_of(example("synthea-style-bundle.json"))),
    )
    assert reply.status_code == 200, reply.text
    (card,) = reply.json()["cards"]
    assert len(card["summary"]) <= 140
    percent = card["summary"].split("Stroke history ")[1].split("%")[0]
    band = assessor.risk_band(float(percent) / 100)
    assert f"({band} band, not a future risk)" in card["summary"]
    assert card["indicator"] == "info"  # a stroke history never alerts
    # The served card of the model that answered, then the published page, then the app.
    assert card["source"]["url"] == "http://testserver/model-card"
    assert [link["url"] for link in card["links"]] == [
        "http://testserver/model-card",
        "https://example.org/model-card",
        "https://example.org/app",
    ]
    detail = card["detail"]
    assert "Observation/4d5e6f70-8192-4a3b-bc4d-5e6f70819207" in detail  # the weight
    assert "Work type not recorded" in detail and "Peers (" in detail


def test_missing_glucose_gives_one_info_card_saying_what_is_missing(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    prefetch["observations"] = bundle(kind="searchset")
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert card["indicator"] == "info"
    assert "not enough data" in card["summary"] and "glucose" in card["summary"]


def test_a_recorded_stroke_gives_a_card_without_a_percentage(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    prefetch["conditions"] = bundle(
        about(prefetch["patient"], example("hl7-r4/condition-example-stroke.json")),
        kind="searchset",
    )
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert "%" not in card["summary"] and "stroke or TIA recorded" in card["summary"]


def test_old_data_is_named_in_the_card(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    old = observation(
        "2345-7", 130, "mg/dL", (dt.date.today() - dt.timedelta(days=800)).isoformat()
    )
    prefetch["observations"] = bundle(about(prefetch["patient"], old), kind="searchset")
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert "glucose is old" in card["detail"]


def test_no_prefetch_and_no_fhir_server_is_an_info_card_not_an_error(client) -> None:
    reply = client.post("/cds-services/stroke-risk", json=hook_request(None))
    assert reply.status_code == 200
    assert "no Patient in the prefetch" in reply.json()["cards"][0]["summary"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "hook"),
        (hook_request({}, hook="order-select"), "hook"),
        ({"hook": "patient-view", "hookInstance": "x"}, "context"),
        (hook_request({"patient": "Patient/1"}), "prefetch.patient"),
        (
            hook_request({"patient": {"resourceType": "Patient", "birthDate": "not a date"}}),
            "birthDate",
        ),
        (
            hook_request(
                {
                    "patient": example("hl7-r4/patient-example.json"),
                    "observations": {
                        "resourceType": "Bundle",
                        "type": "searchset",
                        "entry": [{"resource": {"resourceType": "Observation"}}],
                    },
                }
            ),
            "prefetch.observations",
        ),
        ([1, 2, 3], "invalid hook request"),
    ],
)
def test_malformed_hook_bodies_are_4xx_with_a_clear_message(client, body, words: str) -> None:
    reply = client.post("/cds-services/stroke-risk", json=body)
    assert 400 <= reply.status_code < 500, reply.text
    assert words in reply.json()["error"]


def test_a_body_that_is_not_json_is_400(client) -> None:
    reply = client.post(
        "/cds-services/stroke-risk",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 400


def test_feedback_is_accepted_and_counted_by_outcome(client, feedback_seen) -> None:
    hook = hook_request(prefetch_of(example("synthea-style-bundle.json")))
    shown = [client.post("/cds-services/stroke-risk", json=hook).json()["cards"][0]["uuid"]]
    shown.append(client.post("/cds-services/stroke-risk", json=hook).json()["cards"][0]["uuid"])
    body = {
        "feedback": [
            {
                "card": shown[0],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "1"}],
                "outcomeTimestamp": "2026-11-15T10:00:00Z",
            },
            {
                "card": shown[1],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "x"}},
                "outcomeTimestamp": "2026-11-15T10:00:00Z",
            },
        ]
    }
    before = len(feedback_seen)
    assert client.post("/cds-services/stroke-risk/feedback", json=body).status_code == 200
    assert feedback_seen[before:] == ["accepted", "overridden"]


@pytest.mark.parametrize(
    "body", [{}, {"feedback": []}, {"feedback": [{"card": "x", "outcome": "liked"}]}]
)
def test_malformed_feedback_is_400(client, body) -> None:
    assert client.post("/cds-services/stroke-risk/feedback", json=body).status_code == 400


def test_cds_routes_answer_a_browsers_preflight(client) -> None:
    headers = {
        "Origin": "https://ehr.example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    reply = client.options("/cds-services/stroke-risk", headers=headers)
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] in ("*", "https://ehr.example.org")
    get = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert get.headers["access-control-allow-origin"] in ("*", "https://ehr.example.org")


def test_the_fhir_route_sends_no_cors_headers_by_default(client) -> None:
    reply = client.post(
        "/fhir/risk-assessment", json=bundle(), headers={"Origin": "https://ehr.example.org"}
    )
    assert "access-control-allow-origin" not in reply.headers


def test_allowed_origins_are_configurable(assessor) -> None:
    settings = Settings(
        cds_allowed_origins="https://ehr.example.org",
        fhir_allowed_origins="https://ehr.example.org",
    )
    configured = TestClient(build_app(lambda: assessor, settings))
    for path in ("/cds-services", "/fhir/risk-assessment"):
        headers = {"Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST"}
        assert (
            configured.options(path, headers=headers).headers["access-control-allow-origin"]
            == "https://ehr.example.org"
        )
        headers["Origin"] = "https://elsewhere.example.org"
        assert configured.options(path, headers=headers).status_code == 400


def test_without_issuers_the_api_keys_guard_the_cds_routes(assessor) -> None:
    keyed = TestClient(build_app(lambda: assessor, SETTINGS, api_keys=["k1"]))
    assert keyed.get("/cds-services").status_code == 401
    assert keyed.get("/cds-services", headers={"Authorization": "Bearer k1"}).status_code == 200


@pytest.mark.slow
def test_feedback_appears_in_the_services_metrics(service_url) -> None:
    """Feedback on a card the service showed is counted by its outcome (the test server has
    one worker, so the card was shown by the worker that counts)."""
    shown = requests.post(
        f"{service_url}/cds-services/stroke-risk",
        json=hook_request(prefetch_of(example("synthea-style-bundle.json"))),
        timeout=30,
    ).json()["cards"][0]["uuid"]
    body = {
        "feedback": [
            {"card": shown, "outcome": "accepted", "outcomeTimestamp": "2026-11-15T10:00:00Z"}
        ]
    }
    reply = requests.post(f"{service_url}/cds-services/stroke-risk/feedback", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    metrics = requests.get(f"{service_url}/metrics", timeout=30).text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("cds_feedback") and 'outcome="accepted"' in line
    )
    assert float(line.split()[-1]) >= 1


@pytest.mark.slow
def test_discovery_and_a_hook_call_work_on_the_real_service(service_url) -> None:
    assert (
        requests.get(f"{service_url}/cds-services", timeout=30).json()["services"][0]["id"]
        == "stroke-risk"
    )
    reply = requests.post(
        f"{service_url}/cds-services/stroke-risk",
        json=hook_request(prefetch_of(example("synthea-style-bundle.json"))),
        timeout=30,
    )
    assert reply.status_code == 200
    (card,) = reply.json()["cards"]
    assert card["summary"].startswith("Stroke history ") and card["indicator"] == "info"
    assert card["links"][0]["url"] == f"{service_url}/model-card"
    assert requests.get(card["links"][0]["url"], timeout=30).status_code == 200


def test_a_value_the_model_refuses_gives_an_info_card_naming_the_field(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    prefetch["fieldObservations"] = bundle(
        about(prefetch["patient"], field_observation("work_type", "Astronaut")), kind="searchset"
    )
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert card["indicator"] == "info" and "%" not in card["summary"]
    assert "work_type" in card["summary"]


def test_without_configured_urls_a_card_links_only_to_the_served_model_card(assessor) -> None:
    """The served card is at the address the EHR called; no app or page is guessed."""
    bare = TestClient(build_app(lambda: assessor, Settings()))
    body = hook_request(prefetch_of(example("synthea-style-bundle.json")))
    (card,) = bare.post("/cds-services/stroke-risk", json=body).json()["cards"]
    assert card["source"]["url"] == "http://testserver/model-card"
    assert [link["url"] for link in card["links"]] == ["http://testserver/model-card"]


def test_a_public_base_url_is_where_the_card_links_to_the_model_card(assessor) -> None:
    public = TestClient(build_app(lambda: assessor, Settings(cds_base_url="https://risk.example")))
    body = hook_request(prefetch_of(example("synthea-style-bundle.json")))
    (card,) = public.post("/cds-services/stroke-risk", json=body).json()["cards"]
    assert card["source"]["url"] == "https://risk.example/model-card"


# Every adult lands in 'high' with these bands, so the indicator rule is tested at its top.
ALL_HIGH = Settings(risk_band_thresholds=[0.002, 0.004])


def _card_from(assessor_for_outcome) -> dict[str, Any]:
    app = TestClient(build_app(lambda: assessor_for_outcome, ALL_HIGH))
    body = hook_request(prefetch_of(example("synthea-style-bundle.json")))
    (card,) = app.post("/cds-services/stroke-risk", json=body).json()["cards"]
    return card


def test_the_shipped_models_high_band_card_is_info_and_never_says_stroke_risk(assessor) -> None:
    card = _card_from(with_outcome(assessor, SHIPPED, ALL_HIGH))
    assert "(high band, not a future risk)" in card["summary"]
    assert card["indicator"] == "info"
    for text in (card["summary"], card["detail"], card["source"]["label"]):
        assert not future_risk_claims(text), future_risk_claims(text)


@pytest.mark.parametrize(
    ("outcome", "indicator"),
    [(INCIDENT_INTERNAL, "info"), (INCIDENT_5_YEARS, "critical")],
    ids=["incident-internal", "incident-external"],
)
def test_only_an_externally_validated_incident_model_may_alert(assessor, outcome, indicator):
    card = _card_from(with_outcome(assessor, outcome, ALL_HIGH))
    assert card["summary"].startswith("5-year stroke risk ") and "(high)" in card["summary"]
    assert card["indicator"] == indicator
    assert "5-year risk of stroke" in card["detail"]


def test_a_long_reason_is_cut_to_the_140_characters_of_a_summary(assessor) -> None:
    from stroke_risk.fhir.estimate import Estimate
    from stroke_risk.fhir.mapping import MappedPatient
    from stroke_risk.fhir.texts import summary

    text = summary(Estimate(MappedPatient("Patient/p"), "not_enough_data", reason="x" * 300))
    assert len(text) == 140 and text.endswith("…")


@pytest.mark.slow
def test_the_real_service_answers_a_browsers_preflight_on_the_cds_routes(service_url) -> None:
    headers = {"Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST"}
    reply = requests.options(f"{service_url}/cds-services/stroke-risk", headers=headers, timeout=30)
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] in ("*", "https://ehr.example.org")
    fhir = requests.options(f"{service_url}/fhir/risk-assessment", headers=headers, timeout=30)
    assert "access-control-allow-origin" not in fhir.headers


# --- the chart's patient is the context's patient ---------------------------------------


def test_a_prefetch_patient_who_is_not_the_contexts_patient_gets_no_estimate(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    prefetch["patient"] = {**prefetch["patient"], "id": "OTHER-PATIENT-99"}
    body = hook_request(prefetch)
    body["context"]["patientId"] = "p1"
    (card,) = client.post("/cds-services/stroke-risk", json=body).json()["cards"]
    assert "%" not in card["summary"] and "not this chart's patient" in card["summary"]
    assert card["indicator"] == "info"


def test_another_patients_glucose_in_the_prefetch_is_ignored_and_listed(client) -> None:
    collection = example("synthea-style-bundle.json")
    prefetch = prefetch_of(collection)
    alone = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()
    recent = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    theirs = {
        **observation("2345-7", 400, "mg/dL", recent),
        "id": "someone-elses",
        "subject": {"reference": "Patient/OTHER-PATIENT-99"},
    }
    prefetch["observations"]["entry"].append({"resource": theirs})
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert card["summary"] == alone["cards"][0]["summary"]
    assert "Observation/someone-elses ignored: its subject is another patient" in card["detail"]


def test_a_unit_written_as_a_markdown_link_is_shown_as_text(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    trap = observation(
        "2345-7", 95, "[Click to re-authenticate](https://evil.example/login)", "2026-09-01"
    )
    trap["subject"] = {"reference": f"Patient/{prefetch['patient']['id']}"}
    prefetch["observations"]["entry"].append({"resource": trap})
    (card,) = client.post("/cds-services/stroke-risk", json=hook_request(prefetch)).json()["cards"]
    assert "[Click to re-authenticate](" not in card["detail"]
    assert "\\[Click to re-authenticate\\]\\(https://evil.example/login\\)" in card["detail"]


@pytest.mark.parametrize(
    "feedback",
    [
        {
            "card": "0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60",
            "outcome": "accepted",
            "outcomeTimestamp": "not a time",
        },
        {
            "card": "not-a-card-id",
            "outcome": "accepted",
            "outcomeTimestamp": "2026-11-15T10:00:00Z",
        },
    ],
    ids=["timestamp", "card id"],
)
def test_feedback_with_a_malformed_field_is_400_and_not_counted(
    client, feedback_seen, feedback
) -> None:
    before = len(feedback_seen)
    reply = client.post("/cds-services/stroke-risk/feedback", json={"feedback": [feedback]})
    assert reply.status_code == 400 and len(feedback_seen) == before


def test_feedback_is_capped_per_request(client, feedback_seen) -> None:
    item = {
        "card": "0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60",
        "outcome": "accepted",
        "outcomeTimestamp": "2026-11-15T10:00:00Z",
    }
    before = len(feedback_seen)
    reply = client.post("/cds-services/stroke-risk/feedback", json={"feedback": [item] * 5000})
    assert reply.status_code == 400 and len(feedback_seen) == before


def test_feedback_about_a_card_this_service_never_showed_is_counted_apart(
    client, feedback_seen
) -> None:
    shown = client.post(
        "/cds-services/stroke-risk",
        json=hook_request(prefetch_of(example("synthea-style-bundle.json"))),
    ).json()["cards"][0]["uuid"]
    items = [
        {"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-11-15T10:00:00Z"}
        for card in (shown, "0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60")
    ]
    before = len(feedback_seen)
    assert (
        client.post("/cds-services/stroke-risk/feedback", json={"feedback": items}).status_code
        == 200
    )
    assert feedback_seen[before:] == ["accepted", "unmatched"]


def test_a_prefetch_observation_nested_130_deep_is_a_quick_400_not_a_500(client) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    extension: list = [{"url": "http://example.org/leaf", "valueString": "x"}]
    for _ in range(130):
        extension = [{"url": "http://example.org/n", "extension": extension}]
    glucose = about(
        prefetch["patient"],
        observation("2345-7", 95, "mg/dL", "2026-09-01", modifierExtension=extension),
    )
    prefetch["observations"]["entry"].append({"resource": glucose})
    started = time.monotonic()
    reply = client.post("/cds-services/stroke-risk", json=hook_request(prefetch))
    assert reply.status_code == 400 and "nested more than" in reply.json()["error"]
    assert time.monotonic() - started < 0.2 + 0.3  # generous: the machine is shared
