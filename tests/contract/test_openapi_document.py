"""The OpenAPI document is a valid contract that client generators and gateways accept."""

from __future__ import annotations

import copy
import json

import pytest
import requests
from openapi_spec_validator import OpenAPIV31SpecValidator

from stroke_risk.core.responses import Assessment
from stroke_risk.core.schema import FEATURES, Patient
from stroke_risk.fhir.openapi import merge_into
from stroke_risk.serving.openapi import ERRORS, contract
from tests.wording import INCIDENT_5_YEARS, SHIPPED, future_risk_claims

# What BentoML 1.4 writes for /predict, cut down: the schema inlined under the descriptor's
# name, the non-standard "root_input" keyword, bmi's null dropped, OpenAPI 3.0.2 declared.
BENTOML_LIKE: dict = {
    "openapi": "3.0.2",
    "info": {"title": "stroke_risk", "version": "None"},
    "paths": {
        "/predict": {
            "post": {
                "tags": ["Service APIs"],
                "operationId": "stroke_risk__predict",
                "description": "Stroke risk for one patient.",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "title": "PatientIODescriptor",
                                "properties": {"bmi": {"type": "number"}},
                                "root_input": True,
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "Successful Response"}},
            }
        },
        "/readyz": {"get": {"responses": {"200": {"description": "Ready"}}}},
    },
    "components": {"schemas": {"PatientIODescriptor": {"type": "object"}}},
}


def errors(document: dict) -> list[str]:
    return [
        f"{list(error.absolute_path)}: {error.message}"
        for error in OpenAPIV31SpecValidator(document).iter_errors()
    ]


def test_bentomls_document_made_a_contract_validates_with_our_type_names() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE), additions=(merge_into,))
    assert errors(document) == []
    schemas = document["components"]["schemas"]
    assert {"Patient", "Assessment", "BatchResults", "ErrorResponse"} <= set(schemas)
    assert not [name for name in schemas if "Descriptor" in name]
    assert "root_input" not in str(document)
    operation = document["paths"]["/predict"]["post"]
    assert operation["operationId"] == "predict"
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Patient"}
    Patient.model_validate(body["example"])  # the request's example is a valid patient


def test_the_document_names_neither_bentomls_version_nor_other_sites() -> None:
    """BentoML's 'info' showed its version and four sites' badges (security review)."""
    document = contract(
        {**BENTOML_LIKE, "info": {"title": "x", "description": "![](https://img.shields.io/b)"}}
    )
    assert document["info"]["title"] == "Stroke-risk service API"
    assert "http" not in json.dumps(document["info"]) and "BentoML" not in str(document["info"])


def test_the_document_says_what_a_history_models_number_is_and_never_calls_it_a_risk() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE), additions=(merge_into,))
    text = json.dumps(document)
    assert not future_risk_claims(text), future_risk_claims(text)
    assert "not a future risk" in document["paths"]["/predict"]["post"]["description"]
    assessment = document["components"]["schemas"]["Assessment"]
    assert assessment["properties"]["probability"]["description"] == (
        SHIPPED.probability_description
    )
    assert "outcome" in assessment["required"]


def test_an_incident_models_document_names_its_horizon() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE), outcome=INCIDENT_5_YEARS)
    assert document["info"]["description"].startswith("The 5-year risk of stroke")
    probability = document["components"]["schemas"]["Assessment"]["properties"]["probability"]
    assert probability["description"].startswith("Calibrated 5-year risk of stroke")
    assert document["paths"]["/predict"]["post"]["description"] == (
        "The number: 5-year risk of stroke."
    )


def test_a_blank_bmi_is_documented_as_allowed() -> None:
    bmi = contract(copy.deepcopy(BENTOML_LIKE))["components"]["schemas"]["Patient"]
    assert {"type": "null"} in bmi["properties"]["bmi"]["anyOf"]
    assert bmi["properties"]["bmi"]["x-unit"] == "kg/m²"


def test_the_ehr_routes_json_refusals_are_the_same_error_model() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE), additions=(merge_into,))
    assert errors(document) == []
    for path, method, status in [
        ("/fhir/risk-assessment", "post", "401"),
        ("/fhir/risk-assessment", "post", "415"),
        ("/cds-services/stroke-risk", "post", "400"),
    ]:
        content = document["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }


def test_every_reply_documents_its_request_id() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE))
    assert "X-Request-Id" in document["paths"]["/readyz"]["get"]["responses"]["200"]["headers"]


live = pytest.mark.slow


@pytest.fixture(scope="module")
def served(service_url) -> dict:
    return requests.get(f"{service_url}/docs.json", timeout=30).json()


@live
def test_the_served_document_is_valid_openapi(served) -> None:
    assert served["openapi"].startswith("3.1.")
    assert errors(served) == []


@live
def test_the_served_document_has_every_route(served) -> None:
    for path in ("/predict", "/predict_batch", "/fhir/risk-assessment", "/cds-services"):
        assert path in served["paths"], path


@live
@pytest.mark.parametrize("route", ["/predict", "/predict_batch"])
def test_every_refusal_is_documented_with_its_body(served, route: str) -> None:
    responses = served["paths"][route]["post"]["responses"]
    for status in ("400", "401", "413", "415", "504"):
        assert status in ERRORS
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert {"X-Model-Version", "X-Request-Id"} <= set(responses["200"]["headers"])


@live
def test_the_reply_example_is_a_real_assessment_of_the_request_example(served) -> None:
    operation = served["paths"]["/predict"]["post"]
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    assessment = Assessment.model_validate(example)
    assert 0 < assessment.probability < 1
    assert assessment.outcome.kind == "history"
    # The served document, for the loaded model, calls its number what it is.
    assert not future_risk_claims(json.dumps(served)), future_risk_claims(json.dumps(served))
    patient = served["components"]["schemas"]["Patient"]
    assert set(patient["required"]) == set(FEATURES)


def test_the_swagger_page_shows_the_key_placeholder_as_typed() -> None:
    description = contract(copy.deepcopy(BENTOML_LIKE))["info"]["description"]
    # Markdown with HTML: outside a code span, '<key>' would be eaten as a tag.
    assert "`Authorization: Bearer <key>`" in description
    assert "<key>" not in description.replace("`Authorization: Bearer <key>`", "").replace(
        "`X-API-Key: <key>`", ""
    )


def test_the_batch_is_documented_as_all_or_nothing() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE))
    assert "all or nothing" in document["info"]["description"]
    assert "no patient is scored" in ERRORS["400"]


def test_every_group_shown_has_routes_and_every_route_says_what_it_is() -> None:
    document = contract(copy.deepcopy(BENTOML_LIKE), additions=(merge_into,))
    used = {
        tag
        for path_item in document["paths"].values()
        for operation in path_item.values()
        for tag in operation.get("tags", [])
    }
    assert {tag["name"] for tag in document["tags"]} == used
    assert "Service APIs" not in used
    for path, path_item in document["paths"].items():
        for operation in path_item.values():
            assert operation.get("summary"), f"{path} has no summary"


@pytest.mark.slow
def test_writing_the_document_for_the_clients_warns_of_nothing(quick_training) -> None:
    """`make clients` runs `service.py --openapi`: it serves nothing, so the warning that the
    CDS routes are open (a serving concern) must not appear."""
    import subprocess
    import sys

    from stroke_risk.core.config import REPO_ROOT
    from tests.environment import without_developer_settings

    completed = subprocess.run(
        [sys.executable, "service.py", "--openapi"],
        cwd=REPO_ROOT,
        env=without_developer_settings(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout)["info"]["title"] == "Stroke-risk service API"
    assert "CDS Hooks routes are open" not in completed.stderr
