"""ASGI middleware in front of the prediction endpoints: API keys, body size, content type.

BentoML validates the JSON itself; this guard handles what must be refused before the
body is even read: callers without a valid key (401) when keys are configured, bodies
larger than any legitimate batch (413) and bodies that are not JSON (415). Health,
metrics and documentation endpoints stay open so load balancers and people can use them.

Every reply carries ``X-Request-Id`` (the caller's own if it sent a safe one, else a new
one), which is also added to BentoML's access log line, so a provider can trace a call
without any patient data in the logs; the scoring replies also name the model in
``X-Model-Version``.

It also rewrites the one-line summary of BentoML's validation errors (400), which reads
"3 validation error for PatientIODescriptor" (an internal class name), into a sentence
that names the fields and what is allowed; the per-field ``detail`` list is kept as is.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from stroke_risk.core.validation_errors import summarise

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GUARDED_PATHS = frozenset({"/predict", "/predict_batch", "/fhir/risk-assessment"})
# The JSON media types each guarded path accepts: FHIR clients send application/fhir+json
# (FHIR R4, http.html#mime-type). The CDS Hooks routes check their own callers (JWTs).
JSON_TYPES: dict[str, tuple[bytes, ...]] = {
    "/fhir/risk-assessment": (b"application/json", b"application/fhir+json"),
}
# A 10,000-patient batch is about 2.3 MB of JSON; anything far beyond is not a request.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


# A caller's id is echoed only if it cannot forge or break a log line.
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = b"x-request-id"
MODEL_VERSION_HEADER = b"x-model-version"
MODEL_VERSION_PATHS = frozenset({"/predict", "/predict_batch"})

# The request being answered, for the access log line (set per request by ApiGuard).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


class _BodyTooLarge(Exception):
    pass


def request_id(headers: dict[bytes, bytes]) -> bytes:
    """The caller's ``X-Request-Id`` if it is safe to echo and log, else a new one."""
    given = headers.get(REQUEST_ID_HEADER, b"")
    return given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex.encode()


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


def _readable(body: bytes) -> bytes:
    """BentoML's 400 body with a readable 'error'; anything unexpected passes unchanged."""
    try:
        payload = json.loads(body)
        detail = payload["detail"]
        if not isinstance(detail, list) or not detail:
            return body
        payload["error"] = summarise(detail)
    except (ValueError, KeyError, TypeError, AttributeError):
        return body
    return json.dumps(payload).encode()


class ApiGuard:
    """Refuse unauthenticated, oversized or non-JSON calls to the prediction endpoints."""

    def __init__(
        self,
        app: ASGIApp,
        api_keys: list[str] | tuple[str, ...] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        model_version: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self.api_keys = tuple(key.encode() for key in api_keys)
        self.max_body_bytes = max_body_bytes
        self.model_version = model_version
        self._model_version: bytes | None = None

    def _version(self) -> bytes | None:
        """The served model's tag, asked once (the model is loaded once per process)."""
        if self._model_version is None and self.model_version is not None:
            self._model_version = self.model_version().encode()
        return self._model_version

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        if not self.api_keys:
            return True
        given = headers.get(b"x-api-key", b"")
        authorization = headers.get(b"authorization", b"")
        if authorization[:7].lower() == b"bearer ":
            given = authorization[7:].strip()
        return any(hmac.compare_digest(given, key) for key in self.api_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        this_request = request_id(headers)
        current_request_id.set(this_request.decode())
        extra = [(REQUEST_ID_HEADER, this_request)]
        if scope["path"] in MODEL_VERSION_PATHS and (version := self._version()):
            extra.append((MODEL_VERSION_HEADER, version))
        send = _with_headers(send, extra)
        # A browser's CORS preflight carries no credentials: answered by the app (or 405).
        if scope["path"] not in GUARDED_PATHS or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if not self._authorised(headers):
            await _send_json(
                send,
                401,
                {
                    "error": "missing or invalid API key: send 'Authorization: Bearer <key>' "
                    "or 'X-API-Key: <key>'"
                },
                headers=[(b"www-authenticate", b"Bearer")],
            )
            return
        content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
        if content_type.lower() not in JSON_TYPES.get(scope["path"], (b"application/json",)):
            await _send_json(
                send,
                415,
                {
                    "error": f"unsupported content type '{content_type.decode(errors='replace')}':"
                    " send the patient data as JSON with 'Content-Type: application/json'"
                },
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, _readable_refusals(send))
        except _BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            {
                "error": f"request body larger than {self.max_body_bytes} bytes: split the "
                "batch into smaller requests"
            },
        )


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """Add ``extra`` headers to the reply's start message."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _readable_refusals(send: Send) -> Send:
    """Pass replies through, except a 400, whose body is held (it is small) and reworded."""
    held: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message.get("status") == 400:
            held = message
            return
        if held is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = _readable(b"".join(chunks))
        headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**held, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped
