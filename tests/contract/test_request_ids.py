"""Request ids and the model version in reply headers: echoed, generated, in the access log."""

from __future__ import annotations

import logging

import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stroke_risk.serving.api_guard import ApiGuard, RequestIdInAccessLog
from tests.conftest import EXAMPLE_PATIENT

access_log = logging.getLogger("bentoml.access")


async def _ok(request) -> PlainTextResponse:
    access_log.info("%s (%s)", "127.0.0.1:1", "path=" + request.url.path)  # as BentoML does
    return PlainTextResponse("reached")


APP = Starlette(
    routes=[Route(p, _ok, methods=["GET", "POST"]) for p in ("/predict", "/readyz", "/docs.json")]
)


def client(keys: tuple[str, ...] = ()) -> TestClient:
    return TestClient(ApiGuard(APP, api_keys=keys, model_version=lambda: "stroke_risk_model:v1"))


def test_a_callers_request_id_is_echoed() -> None:
    reply = client().post("/predict", json={}, headers={"X-Request-Id": "gp-42.call:7"})
    assert reply.headers["X-Request-Id"] == "gp-42.call:7"


@pytest.mark.parametrize("given", [None, "", "with space", "new\\nline", "x" * 129, "a;b"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(given) -> None:
    headers = {} if given is None else {"X-Request-Id": given}
    first = client().get("/readyz", headers=headers).headers["X-Request-Id"]
    second = client().get("/readyz", headers=headers).headers["X-Request-Id"]
    assert first != second and len(first) == 32 and first.isalnum()


def test_refusals_carry_the_request_id_too() -> None:
    reply = client(("k1",)).post("/predict", json={}, headers={"X-Request-Id": "abc"})
    assert reply.status_code == 401 and reply.headers["X-Request-Id"] == "abc"


def test_scoring_replies_name_the_model_version_and_others_do_not() -> None:
    assert client().post("/predict", json={}).headers["X-Model-Version"] == "stroke_risk_model:v1"
    assert "X-Model-Version" not in client().get("/readyz").headers


def test_the_access_log_line_names_the_request_id(caplog) -> None:
    access_log.addFilter(log_filter := RequestIdInAccessLog())
    try:
        with caplog.at_level(logging.INFO, logger="bentoml.access"):
            client().post("/predict", json={}, headers={"X-Request-Id": "trace-me-1"})
    finally:
        access_log.removeFilter(log_filter)
    assert "request_id=trace-me-1" in caplog.text


@pytest.mark.slow
def test_the_live_service_echoes_and_logs_request_ids_without_patient_data(service) -> None:
    reply = requests.post(
        f"{service.url}/predict",
        json=EXAMPLE_PATIENT,
        headers={"X-Request-Id": "contract-test-0001"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["X-Request-Id"] == "contract-test-0001"
    assert reply.headers["X-Model-Version"] == reply.json()["model_tag"]
    generated = requests.get(f"{service.url}/readyz", timeout=30).headers["X-Request-Id"]
    assert len(generated) == 32
    lines = [line for line in service.log().splitlines() if "contract-test-0001" in line]
    assert len(lines) == 1 and "path=/predict" in lines[0], lines
    assert "112.98" not in lines[0]  # the example patient's glucose


def test_new_ids_are_unique_within_a_process_and_across_a_fork():
    import os

    from stroke_risk.serving.api_guard import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 32 and i.isalnum() for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child sends one id and leaves at once
        os.write(write, new_request_id())
        os._exit(0)
    os.waitpid(child, 0)
    from_child = os.read(read, 64)
    os.close(read)
    os.close(write)
    assert from_child[:16] != new_request_id()[:16]  # its own prefix
