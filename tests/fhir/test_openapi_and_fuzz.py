"""The EHR routes are in the service's OpenAPI document, and a bounded schemathesis fuzz
of them from that document never gets a 5xx (as tests/service/test_fuzz.py does for
/predict)."""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis

from tests.fuzzing import fuzz

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 40
ROUTES = [
    ("/fhir/risk-assessment", "POST"),
    ("/cds-services", "GET"),
    ("/cds-services/stroke-risk", "POST"),
    ("/cds-services/stroke-risk/feedback", "POST"),
]


def test_the_openapi_document_describes_the_ehr_routes(service_url) -> None:
    document = requests.get(f"{service_url}/docs.json", timeout=30).json()
    for path, method in ROUTES:
        assert method.lower() in document["paths"][path], path
    assert "/predict" in document["paths"]  # BentoML's own routes are still there
    assert "CdsRequest" in document["components"]["schemas"]


@pytest.mark.parametrize(("path", "method"), ROUTES)
def test_the_ehr_routes_never_answer_with_a_server_error(
    service_url, path: str, method: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{service_url}/docs.json")
    operation = schema[path][method]
    seen = fuzz(service_url, operation.as_strategy(), EXAMPLES_PER_OPERATION)
    assert sum(seen.values()) >= 1, seen


@pytest.fixture(scope="module")
def jwt_service(quick_training, bentoml_home, tmp_path_factory):
    """A real service whose CDS routes need a JWT from a trusted issuer (a JWKS file)."""
    from tests.fhir.test_cds_security import ISSUER, jwks
    from tests.servers import bentoml_server, private_bentoml_home

    folder = tmp_path_factory.mktemp("jwt-service")
    keys = folder / "ehr.jwks.json"
    keys.write_text(json.dumps(jwks()))
    home = private_bentoml_home(bentoml_home, folder / "home")
    settings = {
        "STROKE_CDS_TRUSTED_ISSUERS": json.dumps({ISSUER: str(keys)}),
        # The aud the tokens name: configured, never the address a request arrives at.
        "STROKE_CDS_BASE_URL": "http://127.0.0.1",
    }
    with bentoml_server(home, folder, env=settings) as server:
        yield server


@pytest.mark.parametrize(("path", "method"), ROUTES)
@pytest.mark.parametrize("signed", [False, True], ids=["no token", "valid token"])
def test_with_jwts_configured_the_ehr_routes_never_answer_with_a_server_error(
    jwt_service, path: str, method: str, signed: bool
) -> None:
    """Unauthenticated callers (schemathesis sends no token) and callers with a valid JWT
    for the called URL: never a 5xx, whatever the body."""
    from tests.fhir.test_cds_security import token

    def fresh_token() -> dict[str, str]:
        return {"Authorization": f"Bearer {token(aud='http://127.0.0.1' + path)}"}

    schema = schemathesis.openapi.from_url(f"{jwt_service.url}/docs.json")
    operation = schema[path][method]
    seen = fuzz(
        jwt_service.url,
        operation.as_strategy(),
        EXAMPLES_PER_OPERATION,
        headers=fresh_token if signed else None,
    )
    assert sum(seen.values()) >= 1, seen
    if not signed and path.startswith("/cds-services"):
        assert set(seen) == {401}, seen
