"""The EHR routes in the service's OpenAPI document (``/docs.json``).

BentoML documents its own ``@bentoml.api`` methods and mounted FastAPI apps only; these
routes are a Starlette app, so their description is written here, from the same pydantic
models that validate the hook bodies, and merged into BentoML's document on its way out
by the service's one document rewriter (:class:`stroke_risk.serving.openapi.OpenApiDocument`).
"""

from __future__ import annotations

from typing import Any

from stroke_risk.core.responses import ErrorResponse
from stroke_risk.fhir.cds_hooks import CdsRequest, Feedback

REF = "#/components/schemas/{model}"
FHIR_JSON = "application/fhir+json"

BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 Bundle (collection or searchset; transaction, batch and document "
    "bundles, such as Synthea's, are read the same way) holding one Patient and their "
    "Observations and Conditions.",
    "required": ["resourceType", "type"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {
            "type": "string",
            "enum": ["collection", "searchset", "transaction", "batch", "document"],
        },
        "entry": {
            "type": "array",
            "items": {"type": "object", "properties": {"resource": {"type": "object"}}},
        },
    },
}
RESOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}


def _schemas() -> dict[str, Any]:
    """Component schemas of the hook bodies, with pydantic's $defs lifted into components."""
    schemas: dict[str, Any] = {"FhirBundle": BUNDLE_SCHEMA, "FhirResource": RESOURCE_SCHEMA}
    for model in (CdsRequest, Feedback, ErrorResponse):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _json(schema_ref: str, media_types: tuple[str, ...] = ("application/json",)) -> dict:
    return {media: {"schema": {"$ref": REF.format(model=schema_ref)}} for media in media_types}


def _error(description: str, media: str = "application/json") -> dict[str, Any]:
    """A refusal: JSON ones are the API's ErrorResponse, FHIR ones an OperationOutcome."""
    if media == "application/json":
        return {"description": description, "content": _json(ErrorResponse.__name__)}
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def paths() -> dict[str, Any]:
    tags = ["EHR integration"]
    return {
        "/fhir/risk-assessment": {
            "post": {
                "tags": tags,
                "summary": "FHIR R4 Bundle in, RiskAssessment out",
                "description": "Maps the bundle (docs/ehr/fhir-mapping.md) and answers a FHIR "
                "R4 RiskAssessment; a bad bundle gets an OperationOutcome naming the resource "
                "and element (400), missing clinical data or a refused patient 422.",
                "operationId": "fhir_risk_assessment",
                "requestBody": {
                    "required": True,
                    "content": _json("FhirBundle", (FHIR_JSON, "application/json")),
                },
                "responses": {
                    "200": {
                        "description": "RiskAssessment",
                        "content": _json("FhirResource", (FHIR_JSON,)),
                    },
                    "400": _error("OperationOutcome: the bundle cannot be read", FHIR_JSON),
                    "401": _error("Missing or invalid API key"),
                    "415": _error("Not JSON"),
                    "422": _error(
                        "OperationOutcome: not enough data, or a refused patient", FHIR_JSON
                    ),
                },
            }
        },
        "/cds-services": {
            "get": {
                "tags": tags,
                "summary": "CDS Hooks discovery",
                "operationId": "cds_discovery",
                "responses": {
                    "200": {
                        "description": "The services",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "401": _error("JWT or API key refused"),
                },
            }
        },
        "/cds-services/stroke-risk": {
            "post": {
                "tags": tags,
                "summary": "CDS Hooks patient-view: one card with the model's estimate",
                "operationId": "cds_stroke_risk",
                "requestBody": {"required": True, "content": _json("CdsRequest")},
                "responses": {
                    "200": {
                        "description": "{'cards': [...]}",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": _error("Malformed hook request"),
                    "401": _error("JWT or API key refused"),
                },
            }
        },
        "/cds-services/stroke-risk/feedback": {
            "post": {
                "tags": tags,
                "summary": "CDS Hooks feedback on a card, counted in /metrics",
                "operationId": "cds_stroke_risk_feedback",
                "requestBody": {"required": True, "content": _json("Feedback")},
                "responses": {
                    "200": {"description": "Counted"},
                    "400": _error("Malformed feedback"),
                },
            }
        },
    }


def merge_into(document: dict[str, Any]) -> dict[str, Any]:
    """BentoML's OpenAPI document with the EHR routes and their schemas added."""
    document.setdefault("paths", {}).update(paths())
    document.setdefault("components", {}).setdefault("schemas", {}).update(_schemas())
    return document
