"""A bounded property-based fuzz of the API from its own OpenAPI document: no 5xx, ever.

Schemathesis generates requests (valid and invalid) from the service's `/docs.json`;
Hypothesis runs a fixed, derandomised number of them per operation so the test is
bounded and repeatable.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 75


@pytest.mark.parametrize("path", ["/predict", "/predict_batch"])
def test_the_api_never_answers_with_a_server_error(service_url, path):
    schema = schemathesis.openapi.from_url(f"{service_url}/docs.json")
    operation = schema["/predict" if path == "/predict" else "/predict_batch"]["POST"]
    seen: dict[int, int] = {}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case) -> None:
        response = case.call(base_url=service_url, timeout=30)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (case.body, response.text[:500])

    call()
    assert sum(seen.values()) >= 10, seen  # it really sent requests
