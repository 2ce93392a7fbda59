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
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import msgspec
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stroke_risk.core.allowed_urls import Base, allowed_bases, parse_base
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
from stroke_risk.fhir.fetching import FetchFailed, FetchLimits, fetch_missing
from stroke_risk.fhir.lazy_app import warn_if_open
from stroke_risk.fhir.mapping import FhirInputError, is_the_patient, map_bundle, map_resources
from stroke_risk.fhir.risk_assessment import operation_outcome, refusal_outcome, risk_assessment
from stroke_risk.fhir.security import BAD_SIGNATURE, JwtVerifier, Refused, api_key_is_valid
from stroke_risk.fhir.texts import NOT_ESTIMATED

logger = logging.getLogger("stroke_risk.fhir")
FHIR_JSON = "application/fhir+json"
CDS_PREFIX = "/cds-services"
NOT_JSON = "the body is not JSON: send the FHIR resource or hook request as UTF-8 JSON"
NOT_THIS_PATIENT = (
    f"{NOT_ESTIMATED}: the prefetch Patient is not this chart's patient (context.patientId)"
)


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


class IssuedCards:
    """The uuids of the last cards this process returned, so that feedback about a card
    it never showed is not counted as if it were (a bounded, per-process memory: feedback
    that reaches another worker of a multi-worker service is counted as ``unmatched``)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, card_id: str) -> None:
        with self._lock:
            self._ids[card_id] = None
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._ids


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
        # msgspec: a 200-Observation chart in about a quarter of the standard library's
        # time; it also refuses NaN and Infinity, which are not JSON.
        return msgspec.json.decode(raw)
    except (ValueError, msgspec.DecodeError):  # its words may quote the body
        raise FhirInputError(NOT_JSON, "body") from None
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
    if verifier is not None and not settings.cds_base_url:
        raise ValueError("STROKE_CDS_BASE_URL must be set when STROKE_CDS_TRUSTED_ISSUERS is")
    fhir_servers = allowed_bases(settings.cds_fhir_servers)
    limits = FetchLimits(
        settings.fhir_fetch_budget,
        settings.fhir_fetch_max_bytes,
        settings.fhir_fetch_max_pages,
        settings.fhir_fetch_max_resources,
    )
    if warn_when_open:
        warn_if_open(settings.cds_trusted_issuers, api_keys)
    keys = KeyRing(api_keys)
    issued = IssuedCards()

    async def caller(request: Request) -> tuple[Response | None, dict[str, Any]]:
        """(None, the JWT's claims) when the caller may use a CDS route, else the 401."""
        authorization = request.headers.get("authorization", "")
        if verifier is not None:
            # The audience is this service's configured URL: never the Host or
            # X-Forwarded-* headers, which would let another CDS service's tokens in.
            audience = str(settings.cds_base_url).rstrip("/") + request.url.path
            try:
                # In a thread: the first call for an issuer may fetch its JWKS over HTTP.
                claims = await run_in_threadpool(verifier.verify, authorization, audience)
            except Refused as error:
                return _cds_error(401, str(error)), {}
            except Exception as error:  # never a 500 for an unauthenticated caller
                logger.warning("JWT check failed unexpectedly: %s", type(error).__name__)
                return _cds_error(401, BAD_SIGNATURE), {}
            return None, claims
        if keys and not api_key_is_valid(authorization, request.headers.get("x-api-key", ""), keys):
            message = "missing or invalid API key: send 'Authorization: Bearer <key>'"
            return _cds_error(401, message), {}
        return None, {}

    async def refused(request: Request) -> Response | None:
        return (await caller(request))[0]

    def readable_base(server: str, claims: dict[str, Any]) -> Base | None:
        """The allowed base ``server`` lies under, or None: the service must not be made
        to send a token to any URL a caller names (server-side request forgery). With no
        allow list, only a server at the JWT issuer's own address (the safest default:
        an EHR's issuer is usually its own URL); without a JWT, none."""
        bases = fhir_servers
        if not bases and verifier is not None:
            issuer = parse_base(str(claims.get("iss", "")))
            bases = [issuer] if issuer is not None else []
        return next((base for base in bases if base.contains(server)), None)

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
        denied, claims = await caller(request)
        if denied is not None:
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
        allowed = readable_base(hook.fhirServer, claims) if hook.fhirServer else None
        if missing and hook.fhirServer and allowed is None:
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
                    hook.fhirServer, allowed, token, hook.context.patientId, missing, limits
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
        if not is_the_patient(resources, hook.context.patientId):
            return JSONResponse({"cards": [_notice(NOT_THIS_PATIENT)]})
        try:
            mapped = map_resources(resources, clock().date())
        except FhirInputError as error:
            return _cds_error(error.status, f"{error.location}: {error.message}")
        result = estimate(mapped, assessor())
        shown = card(result, card_url(request), settings.app_url, settings.model_card_url)
        issued.add(shown["uuid"])
        return JSONResponse({"cards": [shown]})

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
            count_feedback(item.outcome if str(item.card) in issued else "unmatched")
        return Response(status_code=200)

    routes = [
        Route("/fhir/risk-assessment", fhir_risk_assessment, methods=["POST"]),
        Route(CDS_PREFIX, cds_discovery, methods=["GET"]),
        Route(f"{CDS_PREFIX}/stroke-risk", cds_patient_view, methods=["POST"]),
        Route(f"{CDS_PREFIX}/stroke-risk/feedback", cds_feedback, methods=["POST"]),
    ]
    cors = [(CDS_PREFIX, settings.cds_allowed_origins), ("/fhir/", settings.fhir_allowed_origins)]
    return Starlette(routes=routes, middleware=[Middleware(_PathCors, rules=cors)])
