"""The HTTP routes of the EHR integration, as one Starlette app the service mounts.

    POST /fhir/risk-assessment              Bundle in, RiskAssessment out (FHIR R4)
    GET  /cds-services                      CDS Hooks discovery
    POST /cds-services/stroke-risk          patient-view hook -> {"cards": [...]}
    POST /cds-services/stroke-risk/feedback card outcomes, counted in /metrics

A mounted Starlette app (not ``@bentoml.api``) because these routes speak
``application/fhir+json``, answer errors as FHIR ``OperationOutcome``s or CDS Hooks
messages, and need CORS on some routes only. The API guard keeps its API-key, size and
content-type rules for ``/fhir/risk-assessment``; the CDS routes check a client's JWT
(or, without trusted issuers, the API keys) here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stroke_risk.core.api_keys import KeyRing
from stroke_risk.core.config import Settings
from stroke_risk.core.model_card import MODEL_CARD_PATH
from stroke_risk.core.validation_errors import describe
from stroke_risk.fhir.cds_hooks import (
    CdsRequest,
    Feedback,
    card,
    discovery,
    resources_from_prefetch,
    source,
)
from stroke_risk.fhir.estimate import estimate
from stroke_risk.fhir.fetching import FetchFailed, fetch_missing
from stroke_risk.fhir.lazy_app import warn_if_open
from stroke_risk.fhir.mapping import FhirInputError, map_bundle, map_resources
from stroke_risk.fhir.risk_assessment import operation_outcome, refusal_outcome, risk_assessment
from stroke_risk.fhir.security import JwtVerifier, Refused, api_key_is_valid
from stroke_risk.fhir.texts import NOT_ESTIMATED

logger = logging.getLogger("stroke_risk.fhir")
FHIR_JSON = "application/fhir+json"
CDS_PREFIX = "/cds-services"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _PathCors:
    """CORS for the routes under some path prefixes only (the others send no CORS headers)."""

    def __init__(self, app: Any, rules: list[tuple[str, list[str]]]) -> None:
        self.app = app
        self.rules = [
            (
                prefix,
                CORSMiddleware(
                    app,
                    allow_origins=origins,
                    allow_methods=["GET", "POST"],
                    allow_headers=["authorization", "content-type", "x-api-key"],
                ),
            )
            for prefix, origins in rules
            if origins
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for prefix, cors in self.rules:
                if scope["path"].startswith(prefix):
                    await cors(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)


def _cds_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request, limit: int) -> Any:
    """The JSON body, refused beyond ``limit`` bytes (the service's guard refuses larger
    bodies before they reach these routes; this keeps the rule when they run alone)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FhirInputError(f"request body larger than {limit} bytes", "body", 413)
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type.lower() not in ("application/json", FHIR_JSON):
        raise FhirInputError(
            f"unsupported content type '{content_type}': send {FHIR_JSON} or application/json",
            "body",
            415,
        )
    raw = await request.body()
    if len(raw) > limit:
        raise FhirInputError(f"request body larger than {limit} bytes", "body", 413)
    try:
        return json.loads(raw)
    except ValueError as error:
        raise FhirInputError(f"the body is not JSON: {error}", "body") from None
    except RecursionError:  # arrays or objects nested thousands deep: no FHIR resource is
        raise FhirInputError("the body's JSON is nested too deeply", "body") from None


def build_app(
    assessor: Callable[[], Any],
    settings: Settings,
    api_keys: list[str] | tuple[str, ...] = (),
    clock: Callable[[], dt.datetime] = utc_now,
    count_feedback: Callable[[str], None] = lambda outcome: None,
    warn_when_open: bool = True,
) -> Starlette:
    """The routes, scoring with ``assessor()`` (the service's RiskAssessor). The service
    builds them lazily and warns at start itself (``warn_when_open=False``)."""
    verifier = (
        JwtVerifier(settings.cds_trusted_issuers, settings.jwks_timeout)
        if settings.cds_trusted_issuers
        else None
    )
    if warn_when_open:
        warn_if_open(settings.cds_trusted_issuers, api_keys)
    keys = KeyRing(api_keys)

    async def refused(request: Request) -> Response | None:
        """None when the caller may use a CDS route, else the 401 to send."""
        authorization = request.headers.get("authorization", "")
        if verifier is not None:
            base = settings.cds_base_url or str(request.base_url)
            audience = base.rstrip("/") + request.url.path
            try:
                # In a thread: the first call for an issuer may fetch its JWKS over HTTP.
                await run_in_threadpool(verifier.verify, authorization, audience)
            except Refused as error:
                return _cds_error(401, str(error))
            return None
        if keys and not api_key_is_valid(authorization, request.headers.get("x-api-key", ""), keys):
            return _cds_error(401, "missing or invalid API key: send 'Authorization: Bearer <key>'")
        return None

    def may_read(server: str) -> bool:
        """Which FHIR servers the service fetches from: it must not be made to call any URL
        an unauthenticated caller names (server-side request forgery)."""
        if settings.cds_fhir_servers:
            return server.startswith(tuple(settings.cds_fhir_servers))
        return verifier is not None

    async def fhir_risk_assessment(request: Request) -> Response:
        try:
            bundle = await _json_body(request, settings.ehr_max_body_bytes)
            mapped = map_bundle(bundle, clock().date())
        except FhirInputError as error:
            return _fhir(operation_outcome(error.message, error.location), error.status)
        result = estimate(mapped, assessor())
        if result.outcome in ("not_enough_data", "refused"):
            return _fhir(refusal_outcome(result), 422)
        return _fhir(risk_assessment(result, clock(), card_url(request)))

    async def cds_discovery(request: Request) -> Response:
        return await refused(request) or JSONResponse(discovery())

    async def cds_patient_view(request: Request) -> Response:
        if (denied := await refused(request)) is not None:
            return denied
        try:
            hook = CdsRequest.model_validate(await _json_body(request, settings.ehr_max_body_bytes))
            resources, missing = resources_from_prefetch(hook.prefetch or {})
        except FhirInputError as error:
            return _cds_error(error.status, f"{error.location}: {error.message}")
        except ValidationError as error:
            return _cds_error(
                400, f"invalid hook request: {describe(error.errors(include_input=False))}"
            )
        if missing and hook.fhirServer and not may_read(hook.fhirServer):
            return JSONResponse(
                {
                    "cards": [
                        _notice(
                            f"{NOT_ESTIMATED}: this service may not read from "
                            "that fhirServer (STROKE_CDS_FHIR_SERVERS); send prefetch"
                        )
                    ]
                }
            )
        if missing and hook.fhirServer:
            token = hook.fhirAuthorization.access_token if hook.fhirAuthorization else None
            try:
                resources += await fetch_missing(
                    hook.fhirServer,
                    token,
                    hook.context.patientId,
                    missing,
                    settings.fhir_fetch_timeout,
                )
            except (FetchFailed, FhirInputError) as error:
                message = getattr(error, "message", str(error))
                return JSONResponse({"cards": [_notice(f"{NOT_ESTIMATED}: {message}")]})
        elif "patient" in missing:
            return JSONResponse(
                {
                    "cards": [
                        _notice(
                            f"{NOT_ESTIMATED}: no Patient in the prefetch "
                            "and no fhirServer to read it from"
                        )
                    ]
                }
            )
        try:
            mapped = map_resources(resources, clock().date())
        except FhirInputError as error:
            return _cds_error(error.status, f"{error.location}: {error.message}")
        result = estimate(mapped, assessor())
        return JSONResponse(
            {"cards": [card(result, card_url(request), settings.app_url, settings.model_card_url)]}
        )

    def card_url(request: Request) -> str:
        """The served model card of the model answering (not an external page, which need
        not match the version serving): this service's public URL when set, else the one
        the request arrived at."""
        base = settings.cds_base_url or str(request.base_url)
        return base.rstrip("/") + MODEL_CARD_PATH

    def _notice(summary: str) -> dict[str, Any]:
        return {"summary": summary[:140], "indicator": "info", "source": source(None)}

    async def cds_feedback(request: Request) -> Response:
        if (denied := await refused(request)) is not None:
            return denied
        try:
            feedback = Feedback.model_validate(
                await _json_body(request, settings.ehr_max_body_bytes)
            )
        except FhirInputError as error:
            return _cds_error(error.status, error.message)
        except ValidationError as error:
            return _cds_error(
                400, f"invalid feedback: {describe(error.errors(include_input=False))}"
            )
        for item in feedback.feedback:
            count_feedback(item.outcome)
        return Response(status_code=200)

    routes = [
        Route("/fhir/risk-assessment", fhir_risk_assessment, methods=["POST"]),
        Route(CDS_PREFIX, cds_discovery, methods=["GET"]),
        Route(f"{CDS_PREFIX}/stroke-risk", cds_patient_view, methods=["POST"]),
        Route(f"{CDS_PREFIX}/stroke-risk/feedback", cds_feedback, methods=["POST"]),
    ]
    cors = [(CDS_PREFIX, settings.cds_allowed_origins), ("/fhir/", settings.fhir_allowed_origins)]
    return Starlette(routes=routes, middleware=[Middleware(_PathCors, rules=cors)])
