"""The request guard in front of every route (security review), in process: body limits counted
while reading, repeated headers, keys compared over every key, docs and metrics gated, and
a Swagger page that loads nothing from elsewhere. The real service: test_abuse.py."""

from __future__ import annotations

import hmac
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stroke_risk.core import api_keys
from stroke_risk.core.api_keys import KeyRing
from stroke_risk.serving.api_guard import DEFAULT_BODY_LIMITS, ApiGuard

KEYS = ("first-key-0123456789", "second-key-abcdefgh", "third")


async def _echo_size(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"read {len(await request.body())}")


async def _page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("inner")


APP = Starlette(
    routes=[
        *(Route(path, _echo_size, methods=["POST"]) for path in DEFAULT_BODY_LIMITS),
        *(Route(path, _page) for path in ("/metrics", "/docs.json", "/livez", "/readyz")),
        Route("/static_content/swagger-ui.css", _page),
    ]
)


def client(keys: tuple[str, ...] = (), **options: object) -> TestClient:
    return TestClient(ApiGuard(APP, api_keys=keys, **options))  # type: ignore[arg-type]


def chunks(size: int, chunk: int = 4096):
    """A body of ``size`` bytes sent chunked (no Content-Length)."""
    for start in range(0, size, chunk):
        yield b" " * min(chunk, size - start)


@pytest.mark.parametrize("path", list(DEFAULT_BODY_LIMITS))
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_routes_limit_is_refused_413(path, chunked):
    limit = DEFAULT_BODY_LIMITS[path]
    body = chunks(limit + 1) if chunked else b" " * (limit + 1)
    reply = client().post(path, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413, reply.text
    assert f"larger than {limit} bytes" in reply.json()["error"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_reaches_the_route_whole(chunked):
    limit = DEFAULT_BODY_LIMITS["/predict"]
    body = chunks(limit) if chunked else b" " * limit
    reply = client().post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert reply.text == f"read {limit}"


def test_a_single_patient_route_takes_far_less_than_a_batch():
    assert DEFAULT_BODY_LIMITS["/predict"] <= 16 * 1024  # one patient is under 1 KB
    assert DEFAULT_BODY_LIMITS["/predict_batch"] >= 3 * 1024 * 1024  # 10,000 are ~2.3 MB


def test_limits_come_from_the_service():
    guarded = client(body_limits={"/predict": 2048})
    assert guarded.post("/predict", content=b" " * 2049).status_code == 413
    assert guarded.post("/predict", content=b" " * 2048).status_code == 200


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("content-type", "Content-Type"),
        ("authorization", "Authorization"),
        ("x-api-key", "X-API-Key"),
    ],
)
@pytest.mark.parametrize("path", ["/predict", "/cds-services/stroke-risk", "/metrics"])
def test_a_repeated_header_the_guard_reads_is_refused_400_naming_it(header, name, path):
    values = {"content-type": "application/json", "authorization": f"Bearer {KEYS[0]}"}
    first = values.get(header, KEYS[0])
    headers = [
        (header, "application/x-www-form-urlencoded" if header == "content-type" else "x"),
        (header, first),
    ]
    reply = client(KEYS).post(path, content=b"{}", headers=headers)
    assert reply.status_code == 400
    assert reply.json()["error"] == f"header '{name}' sent more than once: send it once"


def test_other_repeated_headers_pass():
    headers = [("accept", "application/json"), ("accept", "text/plain")]
    assert client().post("/predict", content=b"{}", headers=headers).status_code == 200


def test_every_key_is_compared_even_after_a_match(monkeypatch):
    """No early exit: which key matched, and how long it is, must not show in the timing."""
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", counting)
    ring = KeyRing(KEYS)
    for given in (KEYS[0].encode(), KEYS[2].encode(), b"wrong", b""):
        calls.clear()
        ring.accepts(given)
        assert len(calls) == len(KEYS)
        assert {len(a) for a, _ in calls} == {len(b) for _, b in calls} == {32}  # digests


def test_the_key_ring_accepts_exactly_its_keys():
    ring = KeyRing(KEYS)
    assert all(ring.accepts(key.encode()) for key in KEYS)
    for given in (b"", b"wrong", KEYS[0][:9].encode(), KEYS[0].encode() + b"x"):
        assert not ring.accepts(given)


@pytest.mark.parametrize("path", ["/metrics", "/docs.json", "/", "/static_content/swagger-ui.css"])
def test_docs_and_metrics_need_a_key_by_the_services_default(path):
    guarded = client(KEYS, docs="key", metrics="key")
    assert guarded.get(path).status_code == 401
    assert guarded.get(path, headers={"X-API-Key": KEYS[1]}).status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/docs.json", "/", "/static_content/swagger-ui.css"])
def test_docs_and_metrics_can_be_switched_off(path):
    assert client(KEYS, docs="off", metrics="off").get(path).status_code == 404


def test_a_service_without_keys_serves_docs_and_metrics_openly():
    guarded = client((), docs="key", metrics="key")
    assert guarded.get("/metrics").text == "inner"
    assert guarded.get("/docs.json").text == "inner"


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health_checks_never_need_a_key(path):
    assert client(KEYS, docs="off", metrics="off").get(path).status_code == 200


def test_the_swagger_page_loads_nothing_from_other_sites():
    reply = client().get("/")
    assert reply.status_code == 200
    assert "swagger-ui-bundle.js" in reply.text
    assert "googletagmanager" not in reply.text
    # Every script, style and image the page names is on this service ...
    assert all(
        not re.match(r"[a-z]+:", url) for url in re.findall(r'(?:src|href)="([^"]+)"', reply.text)
    )
    # ... and the browser is told to load from nowhere else.
    assert reply.headers["content-security-policy"].startswith("default-src 'self'")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/bentoml", "serve", "service.py", "--port", "3000"], True),
        (["/venv/lib/python3.11/site-packages/_bentoml_impl/worker/service.py", "x"], True),
        (["/venv/bin/bentoml", "build", "."], False),
        (["service.py", "--openapi"], False),
        (["/venv/bin/pytest"], False),
    ],
    ids=["bentoml serve", "a worker", "bentoml build", "openapi", "tests"],
)
def test_keys_are_required_only_of_a_process_that_serves(argv, expected):
    """`bentoml build` and `make clients` import the service to describe it, keyless."""
    assert api_keys.serving(argv) is expected


def test_a_wrong_method_on_a_scoring_route_is_a_json_405_naming_the_allowed_one():
    reply = client().get("/predict")
    assert reply.status_code == 405
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"error": "method GET not allowed on /predict: use POST"}


def test_an_unknown_path_is_a_json_404_that_does_not_echo_it():
    reply = client().get("/no-such-route/patient-42")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    assert "patient-42" not in reply.text and reply.json()["error"].startswith("not found")


def test_a_browser_refused_the_docs_is_told_about_stroke_docs_open():
    reply = client(KEYS, docs="key").get("/")
    assert reply.status_code == 401
    assert "STROKE_DOCS=open" in reply.json()["error"]
    scoring = client(KEYS).post("/predict", json={})
    assert "STROKE_DOCS" not in scoring.json()["error"]  # only the docs' refusal says it
