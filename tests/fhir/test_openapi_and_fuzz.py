"""The EHR routes are in the service's OpenAPI document, and a bounded schemathesis fuzz
of them from that document never gets a 5xx (as tests/service/test_fuzz.py does for
/predict)."""

from __future__ import annotations

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
