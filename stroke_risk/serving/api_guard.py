"""ASGI middleware in front of the whole service: who may call what, and how much they send.

BentoML validates the JSON itself; this guard handles what must be refused before the
body is parsed: callers without a valid key (401) when keys are configured, bodies larger
than the route's limit (413, counted while reading, with Content-Length or chunked),
bodies that are not JSON (415) and requests with two Content-Type, Authorization or
X-API-Key headers (400: the guard and BentoML could read different ones). Health checks
stay open for load balancers; the docs (``/``, ``/docs.json``) and ``/metrics`` are open,
need a key, or are switched off, as configured (``STROKE_DOCS``, ``STROKE_METRICS``); the
model card (``/model-card``, ``/model-card.json``) is open with open docs and needs a key
otherwise.
The Swagger page is served from here, without BentoML's third-party tracker
(stroke_risk/serving/docs_page.py).

Every reply carries ``X-Request-Id`` (the caller's own if it sent a safe one, else a new
one), which is also added to BentoML's access log line, so a provider can trace a call
without any patient data in the logs; the scoring replies also name the model in
``X-Model-Version``.

It also rewrites BentoML's validation errors (400), whose summary reads "3 validation
error for PatientIODescriptor" (an internal class name), into a sentence that names the
fields and what is allowed, and bounds the per-field ``detail`` list
(validation_errors.condense): one error per object for its unknown fields, at most 20.

Good requests pay for one dict of headers and a few set lookups: no body is parsed or
copied here unless it arrives chunked.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from stroke_risk.core.api_keys import KeyRing, given_key
from stroke_risk.core.config import Settings
from stroke_risk.core.validation_errors import condense, summarise
from stroke_risk.serving import docs_page

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The routes that need an API key when keys are configured. The CDS Hooks routes check
# their own callers (a JWT, or these keys: stroke_risk/fhir/routes.py).
GUARDED_PATHS = frozenset({"/predict", "/predict_batch", "/fhir/risk-assessment"})
# The JSON media types each guarded path accepts: FHIR clients send application/fhir+json
# (FHIR R4, http.html#mime-type).
JSON_TYPES: dict[str, tuple[bytes, ...]] = {
    "/fhir/risk-assessment": (b"application/json", b"application/fhir+json"),
}
# The routes that read a body, beside the two scoring routes: the EHR integration's.
EHR_BODY_PATHS = (
    "/fhir/risk-assessment",
    "/cds-services/stroke-risk",
    "/cds-services/stroke-risk/feedback",
)


def body_limits(settings: Settings) -> dict[str, int]:
    """Each route's largest body, from the settings (STROKE_*_MAX_BODY_BYTES)."""
    return {
        "/predict": settings.predict_max_body_bytes,
        "/predict_batch": settings.batch_max_body_bytes,
        **dict.fromkeys(EHR_BODY_PATHS, settings.ehr_max_body_bytes),
    }


# The settings' defaults (16 KiB, 4 MiB, 1 MiB), unless the service passes its own.
DEFAULT_BODY_LIMITS: dict[str, int] = body_limits(Settings.model_construct())


# What each route's 413 advises.
TOO_LARGE_ADVICE: dict[str, str] = {
    "/predict": "send one patient, or several with /predict_batch",
    "/predict_batch": "split the batch into smaller requests",
}
# The documentation BentoML serves: the Swagger page, its files, and two schema documents.
DOCS_PATHS = frozenset({"/", "/docs.json", "/schema.json"})
# The loaded model's card (stroke_risk/serving/model_card_routes.py): keyed like the docs,
# but never hidden with them: whoever may score patients may read what the number is.
CARD_PATHS = frozenset({"/model-card", "/model-card.json"})
DOCS_PREFIX = "/static_content/"
METRICS_PATH = "/metrics"
# A header sent twice could be read one way here and another way by BentoML.
SINGLE_HEADERS = (b"content-type", b"authorization", b"x-api-key")

# A caller's id is echoed only if it cannot forge or break a log line.
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = b"x-request-id"
MODEL_VERSION_HEADER = b"x-model-version"
MODEL_VERSION_PATHS = frozenset({"/predict", "/predict_batch"})

# The request being answered, for the access log line (set per request by ApiGuard).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


# A new id is this process's random prefix and a count: unique like a uuid4 (32 hex
# characters), at a tenth of the cost (uuid4 reads the system's random source for every
# request: about 4 of the guard's 11 microseconds per request, bench/bench_guard.py).
_id_prefix = uuid.uuid4().hex[:16]
_id_count = itertools.count()


def _new_prefix() -> None:
    """A forked child gets its own prefix, so two processes never share ids."""
    global _id_prefix
    _id_prefix = uuid.uuid4().hex[:16]


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> bytes:
    """A new request id: 32 hex characters, never the same twice."""
    return f"{_id_prefix}{next(_id_count):016x}".encode()


def request_id(headers: dict[bytes, bytes]) -> bytes:
    """The caller's ``X-Request-Id`` if it is safe to echo and log, else a new one."""
    given = headers.get(REQUEST_ID_HEADER, b"")
    return given if SAFE_REQUEST_ID.fullmatch(given) else new_request_id()


class RequestIdInAccessLog(logging.Filter):
    """Add ``request_id=...`` to each line of BentoML's access log (``bentoml.access``).

    The access log is written while the reply is sent, inside ApiGuard's context, so the
    request's id is at hand; the line holds no body, hence no patient data.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = f"{record.msg} (request_id=%s)"
        record.args = (*(record.args or ()), current_request_id.get())  # type: ignore[misc]
        return True


async def _send_json(send: Send, status: int, body: dict[str, Any], headers=()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# The batch contract, said where a caller meets it: a batch is scored whole or not at all.
BATCH_REFUSED = (
    " No patient was scored: a batch is all or nothing. Correct or remove the patients "
    "listed (their index is in each 'loc') and send the batch again."
)


def _readable(body: bytes, batch: bool = False) -> bytes:
    """BentoML's 400 body with a readable 'error' and a bounded 'detail'; anything
    unexpected passes unchanged. A batch's refusal says that no patient was scored."""
    try:
        payload = json.loads(body)
        detail = payload["detail"]
        if not isinstance(detail, list) or not detail:
            return body
        payload["detail"] = condense(detail)
        payload["error"] = summarise(payload["detail"]) + (BATCH_REFUSED if batch else "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return body
    return json.dumps(payload).encode()


def duplicated_header(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The first of SINGLE_HEADERS that ``headers`` holds more than once, or None."""
    names = [name.lower() for name, _ in headers]
    return next((name for name in SINGLE_HEADERS if names.count(name) > 1), None)


class ApiGuard:
    """Refuse unauthenticated, oversized, ambiguous or non-JSON calls; gate docs and metrics."""

    def __init__(
        self,
        app: ASGIApp,
        api_keys: list[str] | tuple[str, ...] = (),
        body_limits: dict[str, int] | None = None,
        docs: str = "open",
        metrics: str = "open",
        model_version: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self.keys = KeyRing(api_keys)
        self.body_limits = {**DEFAULT_BODY_LIMITS, **(body_limits or {})}
        self.model_version = model_version
        self._model_version: bytes | None = None
        # What else needs a key or is hidden ("off" answers 404, as for any unknown path).
        self.docs = docs
        keyed, hidden = set(GUARDED_PATHS), set()
        for paths, mode in ((DOCS_PATHS, docs), ({METRICS_PATH}, metrics)):
            if mode == "key":
                keyed |= paths
            elif mode == "off":
                hidden |= paths
        if docs != "open":
            keyed |= CARD_PATHS
        self.keyed = frozenset(keyed) if len(self.keys) else frozenset()
        self.hidden = frozenset(hidden)
        self.docs_prefix_keyed = docs == "key" and bool(len(self.keys))

    def _version(self) -> bytes | None:
        """The served model's tag, asked once (the model is loaded once per process)."""
        if self._model_version is None and self.model_version is not None:
            self._model_version = self.model_version().encode()
        return self._model_version

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        return self.keys.accepts(
            given_key(headers.get(b"authorization", b""), headers.get(b"x-api-key", b""))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope["headers"]
        headers = dict(raw_headers)
        this_request = request_id(headers)
        current_request_id.set(this_request.decode())
        path = scope["path"]
        extra = [(REQUEST_ID_HEADER, this_request)]
        if path in MODEL_VERSION_PATHS and (version := self._version()):
            extra.append((MODEL_VERSION_HEADER, version))
        send = _with_headers(send, extra)
        # Fewer names than headers means a repeated one: only then look for which.
        if len(headers) != len(raw_headers) and (twice := duplicated_header(raw_headers)):
            name = twice.decode().title().replace("Api", "API")
            await _send_json(
                send, 400, {"error": f"header '{name}' sent more than once: send it once"}
            )
            return
        limit = self.body_limits.get(path)
        if limit is None:
            await self._elsewhere(scope, receive, send, headers)
            return
        # A route that reads a body (the scoring, FHIR and CDS routes): the hot path.
        # A browser's CORS preflight carries no credentials: answered by the app (or 405).
        if scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if path in self.keyed and not self._authorised(headers):
            await _refuse_key(send)
            return
        if path in GUARDED_PATHS:
            content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
            if content_type.lower() not in JSON_TYPES.get(path, (b"application/json",)):
                await _send_json(
                    send,
                    415,
                    {
                        "error": "unsupported content type "
                        f"'{content_type.decode(errors='replace')}': send the patient data as "
                        "JSON with 'Content-Type: application/json'"
                    },
                )
                return
        declared = headers.get(b"content-length")
        if declared is not None:
            # The server reads no more than Content-Length declares: nothing to count.
            if declared.isdigit() and int(declared) > limit:
                await self._too_large(send, path, limit)
                return
            await self.app(scope, receive, _readable_refusals(send, scope))
            return
        # Chunked: read the body here, up to the limit, and hand it on whole. Refusing
        # from inside BentoML's app would surface as its 500 (and a traceback in the log).
        body = await _read_at_most(receive, limit)
        if body is None:
            await self._too_large(send, path, limit)
            return
        await self.app(scope, _replay(body, receive), _readable_refusals(send, scope))

    async def _elsewhere(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        """Every other path: health checks pass; docs and metrics as configured."""
        path = scope["path"]
        is_docs_file = path.startswith(DOCS_PREFIX)
        if path in self.hidden or (is_docs_file and self.docs == "off"):
            await _send_json(send, 404, {"error": "not found"})
            return
        needs_key = path in self.keyed or (is_docs_file and self.docs_prefix_keyed)
        if needs_key and scope.get("method") != "OPTIONS" and not self._authorised(headers):
            await _refuse_key(send, docs=path in DOCS_PATHS or is_docs_file)
            return
        if path == "/" and scope.get("method") in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 200, "headers": docs_page.HEADERS})
            body = docs_page.PAGE if scope["method"] == "GET" else b""
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, _readable_refusals(send, scope))

    async def _too_large(self, send: Send, path: str, limit: int) -> None:
        advice = TOO_LARGE_ADVICE.get(path, "send less")
        await _send_json(
            send,
            413,
            {"error": f"request body larger than {limit} bytes, the limit for {path}: {advice}"},
            headers=[(b"connection", b"close")],
        )


# A browser opening the docs cannot send a key: the 401 says how to open them instead.
DOCS_NEED_A_KEY = (
    " The API documentation needs a key too, which a browser cannot send: read it with a "
    "key (e.g. curl -H 'Authorization: Bearer <key>' .../docs.json), or start the service "
    "with STROKE_DOCS=open to serve the documentation (never the scoring) without one."
)


async def _refuse_key(send: Send, docs: bool = False) -> None:
    error = "missing or invalid API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
    await _send_json(
        send,
        401,
        {"error": error + (DOCS_NEED_A_KEY if docs else "")},
        headers=[(b"www-authenticate", b"Bearer")],
    )


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than ``limit`` bytes (or the client
    went away), without holding more than ``limit`` plus one chunk."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` in one message, then defers to the real one (which
    reports a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """Add ``extra`` headers to the reply's start message."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _plain_refusal(status: int, scope: Scope, body: bytes, headers: list) -> bytes:
    """The framework's plain-text 404 or 405 as the JSON error body every other refusal
    has; a JSON body (ours, or a route's own) passes unchanged."""
    content_type = {k.lower(): v for k, v in headers}.get(b"content-type", b"")
    if content_type.startswith(b"application/json"):
        return body
    path, method = scope.get("path", ""), scope.get("method", "")
    if status == 405:
        allowed = {k.lower(): v for k, v in headers}.get(b"allow", b"").decode()
        use = f": use {allowed}" if allowed else ""
        return json.dumps({"error": f"method {method} not allowed on {path}{use}"}).encode()
    return json.dumps(
        {"error": "not found: no such route (the API documentation is at /)"}
    ).encode()


def _readable_refusals(send: Send, scope: Scope) -> Send:
    """Pass replies through, except a 400 (reworded) and a plain-text 404 or 405 (made
    JSON), whose bodies are held (they are small)."""
    held: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message.get("status") in (400, 404, 405):
            held = message
            return
        if held is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        status = held.get("status")
        if status == 400:
            body = _readable(b"".join(chunks), batch=scope.get("path") == "/predict_batch")
        else:
            body = _plain_refusal(status, scope, b"".join(chunks), held.get("headers", []))
            held = {
                **held,
                "headers": [
                    (k, v) for k, v in held.get("headers", []) if k.lower() != b"content-type"
                ]
                + [(b"content-type", b"application/json")],
            }
        headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**held, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped
