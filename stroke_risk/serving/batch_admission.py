"""A per-worker limit on batches being scored at once: the rest are told to come back.

A worker scores a batch in a thread (service.py), so its event loop stays free for health
checks and single patients. That alone is not enough: BentoML validates each batch's JSON
on the event loop (about 50-90 ms for 10,000 patients), scoring threads share one GIL, and
a worker that accepted 64 batches at once would take seconds over each of them while the
load balancer's health check timed out (security review). So each worker admits a
small number of batches and answers the others at once with 503 and ``Retry-After``,
before their bodies are read or parsed: a client or the load balancer retries elsewhere,
and ``/livez`` and ``/readyz`` keep answering in milliseconds (bench/README.md, "Batches,
health checks and shutdown under load").

The refused request's body is left unread: uvicorn discards what arrives after a complete
reply and keeps the connection open, so a client still sending its body reads the 503
rather than a reset.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BATCH_PATHS = frozenset({"/predict_batch"})


class BatchAdmission:
    """Admit at most ``limit`` requests to ``paths`` at once in this worker; answer the
    others 503 with ``Retry-After: retry_after`` without reading their bodies."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        retry_after: int = 1,
        paths: Iterable[str] = BATCH_PATHS,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.app = app
        self.limit = limit
        self.paths = frozenset(paths)
        self.in_flight = 0  # one event loop per worker: a plain counter needs no lock
        self.busy_reply = json.dumps(
            {
                "error": f"busy: this server is already scoring {limit} "
                f"batch{'es' if limit > 1 else ''}; retry after {retry_after} s"
            }
        ).encode()
        self.busy_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.busy_reply)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await send({"type": "http.response.start", "status": 503, "headers": self.busy_headers})
            await send({"type": "http.response.body", "body": self.busy_reply})
            return
        self.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_flight -= 1

        async def send_then_release(message: Message) -> None:
            await send(message)
            # Free the place once the reply is out, not after the clean-up that follows it:
            # a client sending its next batch straight away should find it free.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
