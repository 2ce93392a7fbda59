"""The API guard in front of POST /fhir/risk-assessment: FHIR's media type passes, the
API-key rule still applies, and /predict keeps accepting JSON only."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stroke_risk.serving.api_guard import ApiGuard


async def _ok(request) -> PlainTextResponse:
    return PlainTextResponse("reached")


APP = Starlette(
    routes=[Route(p, _ok, methods=["POST"]) for p in ("/predict", "/fhir/risk-assessment")]
)


def client(keys: tuple[str, ...] = ()) -> TestClient:
    return TestClient(ApiGuard(APP, api_keys=keys))


def test_fhir_json_reaches_the_fhir_route() -> None:
    reply = client().post(
        "/fhir/risk-assessment", content=b"{}", headers={"Content-Type": "application/fhir+json"}
    )
    assert reply.text == "reached"


def test_fhir_json_is_still_refused_by_predict() -> None:
    reply = client().post(
        "/predict", content=b"{}", headers={"Content-Type": "application/fhir+json"}
    )
    assert reply.status_code == 415


def test_the_fhir_route_needs_an_api_key_when_keys_are_set() -> None:
    headers = {"Content-Type": "application/fhir+json"}
    assert (
        client(("k1",)).post("/fhir/risk-assessment", content=b"{}", headers=headers).status_code
        == 401
    )
    headers["Authorization"] = "Bearer k1"
    assert (
        client(("k1",)).post("/fhir/risk-assessment", content=b"{}", headers=headers).text
        == "reached"
    )


def test_a_cors_preflight_passes_the_guard_without_a_key() -> None:
    reply = client(("k1",)).options(
        "/fhir/risk-assessment", headers={"Origin": "https://ehr.example.org"}
    )
    assert reply.status_code != 401
