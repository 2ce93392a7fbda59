"""The request timeout answers 504 as BentoML's does, but lets go of a finished request."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from concurrent.futures import ThreadPoolExecutor

import pytest
from bentoml._internal.server.http import traffic

from stroke_risk.serving.request_timeout import CancellingTimeoutMiddleware, install

BENTOML_TIMEOUT_MIDDLEWARE = traffic.TimeoutMiddleware
# What an outer middleware (OpenTelemetry, BentoML's request context) leaves in the context.
request_state: contextvars.ContextVar[object] = contextvars.ContextVar("request_state")


class RequestState:
    """Stands for everything a request's context reaches (its span, the request itself)."""


async def reply_ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def reply_late(scope, receive, send) -> None:
    await asyncio.sleep(5)
    await reply_ok(scope, receive, send)


def serve_one(middleware_class: type, app, timeout: float) -> tuple[list[dict], bool]:
    """One request through the middleware: what was sent, and whether the request's state
    is still held once the reply is out (checked while the event loop still runs, as a
    server's does)."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def scenario() -> bool:
        state = RequestState()
        request_state.set(state)
        middleware = middleware_class(app, timeout=timeout)
        await middleware({"type": "http", "path": "/predict"}, receive, send)
        request_state.set(None)
        reference = weakref.ref(state)
        del state
        await asyncio.sleep(0.01)  # let a cancelled handler finish cancelling
        gc.collect()
        return reference() is not None

    def fresh_loop() -> bool:
        # A fresh context per request, as the server gives each connection's task.
        return contextvars.Context().run(asyncio.run, scenario())

    # A thread of its own: other tests (the browser's) may leave this one's loop running.
    with ThreadPoolExecutor(1) as thread:
        return sent, thread.submit(fresh_loop).result()


def test_a_prompt_reply_passes_through_unchanged():
    sent, _ = serve_one(CancellingTimeoutMiddleware, reply_ok, timeout=60)
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"


def test_a_finished_request_is_released_before_its_timeout_expires():
    _, held = serve_one(CancellingTimeoutMiddleware, reply_ok, timeout=60)
    assert not held


def test_bentoml_1_4_40_holds_the_finished_request_until_its_timeout_expires():
    """Why this module exists. If this fails, BentoML has fixed its middleware and the
    replacement can go (see stroke_risk/request_timeout.py)."""
    _, held = serve_one(BENTOML_TIMEOUT_MIDDLEWARE, reply_ok, timeout=60)
    assert held


def test_no_reply_within_the_timeout_is_a_504_with_bentomls_message():
    sent, held = serve_one(CancellingTimeoutMiddleware, reply_late, timeout=0.05)
    assert sent[0]["status"] == 504
    assert sent[1]["body"] == b'{"error":"Not able to process the request in 0.05 seconds"}'
    assert not held


def test_install_makes_bentoml_build_apps_with_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(traffic, "TimeoutMiddleware", BENTOML_TIMEOUT_MIDDLEWARE)
    install()
    from bentoml._internal.server.http.traffic import TimeoutMiddleware  # as BentoML does

    assert TimeoutMiddleware is CancellingTimeoutMiddleware
