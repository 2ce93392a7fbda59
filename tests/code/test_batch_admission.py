"""BatchAdmission: a worker scores a bounded number of batches; the rest hear 503 at once."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from stroke_risk.serving.batch_admission import BatchAdmission


def run_in_own_loop(scenario) -> None:
    """Run the scenario in a fresh event loop on its own thread: a browser test's
    session-long Playwright loop may still be running on the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario()).result()


class SlowApp:
    """An app that holds each request until released, counting the bodies it reads."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, scope, receive, send) -> None:
        self.started += 1
        await receive()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def http_scope(path: str) -> dict:
    return {"type": "http", "path": path, "method": "POST", "headers": []}


async def call(app, path: str) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """The reply's status, headers and body, and how many times the body was read."""
    sent: list[dict] = []
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(http_scope(path), receive, send)
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"], reads


def test_batches_beyond_the_limit_are_refused_at_once_with_retry_after():
    async def scenario():
        inner = SlowApp()
        app = BatchAdmission(inner, limit=2, retry_after=3)
        admitted = [asyncio.create_task(call(app, "/predict_batch")) for _ in range(2)]
        await asyncio.sleep(0.01)
        status, headers, body, reads = await call(app, "/predict_batch")
        assert (status, headers[b"retry-after"]) == (503, b"3")
        assert "busy" in json.loads(body)["error"]
        assert reads == 0  # refused before its body was read
        assert inner.started == 2
        inner.release.set()
        assert [r[0] for r in await asyncio.gather(*admitted)] == [200, 200]
        # Once they are done, the next batch is admitted again.
        status, *_ = await call(app, "/predict_batch")
        assert status == 200

    run_in_own_loop(scenario)


def test_other_routes_are_never_limited():
    async def scenario():
        inner = SlowApp()
        app = BatchAdmission(inner, limit=1)
        held = asyncio.create_task(call(app, "/predict_batch"))
        others = [asyncio.create_task(call(app, path)) for path in ("/predict", "/readyz")]
        await asyncio.sleep(0.01)
        assert inner.started == 3
        inner.release.set()
        assert [r[0] for r in await asyncio.gather(held, *others)] == [200, 200, 200]

    run_in_own_loop(scenario)


def test_a_failing_batch_frees_its_place():
    async def failing(scope, receive, send):
        raise RuntimeError("scoring failed")

    async def scenario():
        app = BatchAdmission(failing, limit=1)
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await call(app, "/predict_batch")
        assert app.in_flight == 0

    run_in_own_loop(scenario)


def test_the_limit_must_admit_at_least_one_batch():
    with pytest.raises(ValueError, match="at least 1"):
        BatchAdmission(SlowApp(), limit=0)
