"""The service's OpenAPI document (``/docs.json``): the contract clients are generated from.

BentoML writes the document, but in a form client generators and API gateways stumble
over: each request and reply schema is inlined and named after BentoML's descriptors
(``PatientIODescriptor``), with a non-standard ``root_input`` keyword and with ``null``
dropped from optional fields (so ``bmi: null`` looked forbidden); it declares OpenAPI
3.0.2 while the schemas are pydantic's JSON Schema 2020-12 (the OpenAPI 3.1 dialect); and
it lists neither the guard's refusals (401, 413, 415), the timeout (504), examples nor the
response headers. This module is the one place that corrects it, on the way out
(:class:`OpenApiDocument`): the scoring routes are described from our own pydantic models
(``Patient``, ``Assessment``, ``BatchResults``, ``ErrorResponse``), as OpenAPI 3.1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from stroke_risk.assessment.results import encode_json
from stroke_risk.core.outcome import KAGGLE_HISTORY, OutcomeSummary
from stroke_risk.core.responses import Assessment, BatchResults, ErrorResponse
from stroke_risk.core.schema import Patient, PatientBatch

OPENAPI_VERSION = "3.1.0"  # pydantic writes JSON Schema 2020-12, which is 3.1's dialect
REF = "#/components/schemas/{model}"
JSON = "application/json"
REQUEST_ID = "X-Request-Id"
MODEL_VERSION = "X-Model-Version"

# route -> (operationId, request model, reply model, summary)
SCORING_ROUTES: dict[str, tuple[str, type[BaseModel], type[BaseModel], str]] = {
    "/predict": ("predict", Patient, Assessment, "Score one adult patient"),
    "/predict_batch": (
        "predict_batch",
        PatientBatch,
        BatchResults,
        "Score many adult patients, in the order given",
    ),
}
# Status -> when it is sent; every one has an ErrorResponse body.
ERRORS: dict[str, str] = {
    "400": "Invalid input: 'error' says what in one sentence, 'detail' lists the fields (at "
    "most 20 problems; in a batch, 'loc' gives the patient's index). A batch is all or "
    "nothing: with one invalid patient, no patient is scored; correct or remove the patients "
    "listed and send the batch again. Also a Content-Type, Authorization or X-API-Key "
    "header sent twice",
    "401": "Missing or invalid API key (only when the service has keys configured)",
    "413": "Request body larger than the route's limit (/predict 16 KiB, /predict_batch 4 MiB "
    "by default): split the batch",
    "415": "Not JSON: send 'Content-Type: application/json'",
    "500": "Unexpected server error",
    "504": "Not answered within the request timeout",
}
TITLE = "Stroke-risk service API"
# Swagger UI renders the description as Markdown with HTML: a bare <key> is eaten as a tag,
# so the headers are code spans, which show it as typed.
HOW_TO_CALL = (
    "Decision support, not a diagnosis. Send one patient to `/predict` or many to "
    "`/predict_batch` (all or nothing: one invalid patient refuses the whole batch with a 400 "
    "naming each problem). With API keys configured, send `Authorization: Bearer <key>` or "
    "`X-API-Key: <key>`. The loaded model's card: `/model-card` (JSON: `/model-card.json`)."
)


def info(outcome: OutcomeSummary) -> dict[str, str]:
    """The document's ``info``: what the loaded model's number is, from its own record."""
    return {
        "title": TITLE,
        "version": "1",
        "description": f"{outcome.api_description} {HOW_TO_CALL}",
    }


# The groups the routes are shown in, in this order. BentoML's own 'Service APIs' group
# would be empty: every route it held is described in one of these.
TAGS: list[dict[str, str]] = [
    {"name": "Scoring", "description": "The model's estimate for one patient or a batch."},
    {
        "name": "EHR integration",
        "description": "FHIR R4 and CDS Hooks, for electronic health records.",
    },
    {
        "name": "Infrastructure",
        "description": "Health checks and metrics, for load balancers and monitoring.",
    },
]
# BentoML's infrastructure routes, said in a sentence each; none reads patient data.
INFRASTRUCTURE: dict[str, str] = {
    "/livez": "Liveness: the process answers (for restarts). No key needed.",
    "/healthz": "The same check as /livez, under the name some load balancers expect.",
    "/readyz": "Readiness: the model is loaded and requests are taken. No key needed.",
    "/metrics": "Prometheus metrics (STROKE_METRICS: open, a key, or off).",
}
# Assesses patients for the examples (the service's live assessor): real numbers, never stale.
Assess = Callable[[list[Patient]], Sequence[Any]]


def _ref(model: str) -> dict[str, str]:
    return {"$ref": REF.format(model=model)}


def component_schemas() -> dict[str, Any]:
    """Our models' JSON schemas, named as in the code, with shared parts as components."""
    models: list[tuple[type[BaseModel], Any]] = [
        (Patient, "validation"),
        (PatientBatch, "validation"),
        (Assessment, "serialization"),
        (BatchResults, "serialization"),
        (ErrorResponse, "serialization"),
    ]
    _, top = models_json_schema(models, ref_template=REF)
    schemas = top["$defs"]
    for name in (Patient.__name__,):
        _other_spellings(schemas[name])
    return schemas


# What the request schema adds to each category's list: the spellings the service accepts
# by design (schema._canonical), so a generated client does not refuse them first.
OTHER_SPELLING = (
    "another spelling of one of these values: case, spaces, '_' and '-' are ignored "
    "(e.g. 'govt job' for 'Govt_job')"
)


def _other_spellings(schema: dict[str, Any]) -> None:
    """A request's categories as 'one of these, or another spelling of one', and its 0/1
    flags as 'or true/false': what the service accepts, not only what it answers with."""
    for prop in schema.get("properties", {}).values():
        if "enum" not in prop:
            continue
        listed = {"type": prop.pop("type"), "enum": prop.pop("enum")}
        if listed["type"] == "string":
            prop["anyOf"] = [listed, {"type": "string", "description": OTHER_SPELLING}]
        else:  # the 0/1 flags: JSON true and false too
            prop["anyOf"] = [listed, {"type": "boolean"}]


def _request_id_header() -> dict[str, Any]:
    return {
        "description": "The request's id: the caller's own if it sent a valid one, else a new "
        "one. It is in the service's access log line, so a call can be traced without "
        "patient data.",
        "schema": {"type": "string"},
    }


def _headers(with_model_version: bool) -> dict[str, Any]:
    headers = {REQUEST_ID: _request_id_header()}
    if with_model_version:
        headers[MODEL_VERSION] = {
            "description": "The model that scored the request, as in the body's model_tag.",
            "schema": {"type": "string"},
        }
    return headers


def _scoring_operation(
    route: str,
    old: dict[str, Any],
    assess: Assess | None,
    example: dict[str, Any],
    outcome: OutcomeSummary,
) -> dict[str, Any]:
    operation_id, request_model, reply_model, summary = SCORING_ROUTES[route]
    request_example: Any = example if request_model is Patient else {"patients": [example]}
    reply: dict[str, Any] = {"schema": _ref(reply_model.__name__)}
    if assess is not None:
        results = json.loads(encode_json(list(assess([Patient.model_validate(example)]))))
        reply["example"] = results[0] if reply_model is Assessment else {"results": results}
    responses: dict[str, Any] = {
        "200": {
            "description": reply_model.__doc__ or "",
            "headers": _headers(with_model_version=True),
            "content": {JSON: reply},
        }
    }
    for status, description in ERRORS.items():
        responses[status] = {
            "description": description,
            "content": {JSON: {"schema": _ref(ErrorResponse.__name__)}},
        }
    return {
        "tags": ["Scoring"],
        "summary": summary,
        # What the number is, from the loaded model's record (not BentoML's docstring copy).
        "description": f"The number: {outcome.label}. {outcome.not_prospective}".strip(),
        "operationId": operation_id,
        "parameters": [
            {
                "name": REQUEST_ID,
                "in": "header",
                "required": False,
                "description": "Your own id for the call (letters, digits, '-', '_', '.', ':'; "
                "up to 128), echoed in the reply; one is made up if absent.",
                "schema": {"type": "string", "maxLength": 128},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": _ref(request_model.__name__), "example": request_example}},
        },
        "responses": responses,
        "security": [{}, {"bearer": []}, {"apiKey": []}],
    }


def _unused_bentoml_schemas(schemas: dict[str, Any]) -> None:
    """Drop the descriptors and BentoML's task and error schemas, now referenced nowhere."""
    for name in list(schemas):
        if name.endswith("IODescriptor") or name in {
            "TaskStatusResponse",
            "InvalidArgument",
            "NotFound",
            "InternalServerError",
        }:
            del schemas[name]


def contract(
    document: dict[str, Any],
    assess: Assess | None = None,
    additions: Sequence[Callable[[dict[str, Any]], dict[str, Any]]] = (),
    outcome: OutcomeSummary = KAGGLE_HISTORY,
) -> dict[str, Any]:
    """BentoML's document made a valid OpenAPI 3.1 contract, with ``additions`` merged in.

    ``assess`` (optional) scores the example patient for the replies' examples;
    ``outcome`` (the loaded model's record) gives the words for what the number is.
    """
    document["openapi"] = OPENAPI_VERSION
    # BentoML's own 'info' names its version and shows badges from four other sites (which
    # the Swagger page would load); ours says what the service's number is.
    document["info"] = info(outcome)
    example = dict(Patient.model_config["json_schema_extra"]["example"])
    paths = document.setdefault("paths", {})
    for route in SCORING_ROUTES:
        if route in paths:
            operation = _scoring_operation(route, paths[route]["post"], assess, example, outcome)
            paths[route] = {"post": operation}
    for route, summary in INFRASTRUCTURE.items():
        for operation in paths.get(route, {}).values():
            operation.setdefault("summary", summary)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _unused_bentoml_schemas(schemas)
    schemas.update(component_schemas())
    # The field's words from the loaded model's record, not the class's generic ones.
    schemas["Assessment"]["properties"]["probability"]["description"] = (
        outcome.probability_description
    )
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for add in additions:
        document = add(document)
    used = {
        tag
        for path_item in document["paths"].values()
        for operation in path_item.values()
        for tag in operation.get("tags", [])
    }
    document["tags"] = [tag for tag in TAGS if tag["name"] in used]  # no empty group
    # Every reply carries a request id, whichever route sent it.
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {}).setdefault(REQUEST_ID, _request_id_header())
    return document


class OpenApiDocument:
    """ASGI middleware: the ``/docs.json`` BentoML sends, rewritten by :func:`contract`."""

    def __init__(
        self,
        app: Any,
        assess: Callable[[], Assess] | None = None,
        additions: Sequence[Callable[[dict[str, Any]], dict[str, Any]]] = (),
        path: str = "/docs.json",
        outcome: Callable[[], OutcomeSummary] | None = None,
    ) -> None:
        self.app = app
        self.assess = assess
        self.additions = tuple(additions)
        self.path = path
        self.outcome = outcome

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def hold(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if start.get("status") == 200:
                assess = self.assess() if self.assess is not None else None
                outcome = self.outcome() if self.outcome is not None else KAGGLE_HISTORY
                document = contract(json.loads(body), assess, self.additions, outcome)
                body = json.dumps(document).encode()
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)
