"""A bounded property-based fuzz of the API from its own OpenAPI document: no 5xx, ever, and
every reply in the documented form.

Schemathesis generates requests, valid and invalid, from the service's `/docs.json`;
Hypothesis runs a fixed, derandomised number of them per operation so the test is
bounded and repeatable. A 200 must match the reply models the API documents
(`stroke_risk.core.responses`) and the OpenAPI document's response schema; a refusal
must be the documented `{"error": ..., "detail": [...]}` (docs/provider-it/errors-and-limits.md).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from pydantic import BaseModel, ConfigDict
from schemathesis.checks import response_schema_conformance

from stroke_risk.core.responses import Assessment, BatchResults
from tests.fuzzing import fuzz

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 75
DOCUMENTED_REPLY: dict[str, type[BaseModel]] = {
    "/predict": Assessment,
    "/predict_batch": BatchResults,
}


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str


class Refusal(BaseModel):
    """A 4xx body as the manual documents it: one sentence, and for 400 each field."""

    model_config = ConfigDict(extra="forbid")

    error: str
    detail: list[ErrorDetail] | None = None


@pytest.mark.parametrize("path", list(DOCUMENTED_REPLY))
def test_the_api_never_answers_with_a_server_error_and_replies_as_documented(service_url, path):
    schema = schemathesis.openapi.from_url(f"{service_url}/docs.json")
    operation = schema[path]["POST"]
    valid = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE)
    invalid = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)

    def replies_as_documented(case, response) -> None:
        body: Any = response.text
        if response.status_code == 200:
            DOCUMENTED_REPLY[path].model_validate_json(body)
            case.validate_response(response, checks=[response_schema_conformance])
        else:
            refusal = Refusal.model_validate_json(body)
            assert (refusal.detail is not None) == (response.status_code == 400), body[:500]

    seen = fuzz(service_url, valid | invalid, EXAMPLES_PER_OPERATION, replies_as_documented)
    # It really sent requests, and both kinds: replies whose schema was checked, and refusals.
    assert seen.get(200, 0) > 0 and sum(seen.values()) - seen.get(200, 0) > 0, seen
