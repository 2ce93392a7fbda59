"""The header limit, in a real uvicorn server with the pinned httptools parser: a request
whose line and headers pass the limit is answered 431 while they arrive, quickly and
without the worker holding them; requests under it, and large bodies, pass."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from uvicorn.config import HTTP_PROTOCOLS

from stroke_risk.serving import header_limit
from stroke_risk.serving.header_limit import HeaderLimitedProtocol

LIMIT = 64 * 1024


async def echo_app(scope, receive, send) -> None:
    """Answers 200 with the size of the body it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    HeaderLimitedProtocol.limit = LIMIT
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=0, http=HeaderLimitedProtocol, log_level="error"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.02)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield ("127.0.0.1", port)
    running.should_exit = True
    thread.join(timeout=5)


def exchange(address, head: bytes, body: bytes = b"", chunk: int = 1 << 20) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` (stopping if the server closes), then read the reply."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=10) as connection:
        data = head + body
        try:
            for start in range(0, len(data), chunk):
                connection.sendall(data[start : start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while part := connection.recv(65536):  # the server closes after its reply
                reply += part
        except ConnectionResetError:
            pass
    return reply, time.monotonic() - started


def request(headers: bytes, body: bytes = b"") -> bytes:
    return (
        b"POST /x HTTP/1.1\r\nHost: t\r\n"
        + headers
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )


def test_an_8_mb_authorization_header_is_refused_with_431_in_under_200_ms(server) -> None:
    head = request(b"Authorization: Bearer " + b"a" * (8 << 20) + b"\r\n")
    reply, elapsed = exchange(server, head)
    assert reply.startswith(b"HTTP/1.1 431")
    assert b"larger than 65536 bytes" in reply
    assert elapsed < 0.2 + 0.5  # generous: the client is still sending when refused


def test_many_headers_together_over_the_limit_are_refused(server) -> None:
    head = request(b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(80)))
    reply, _ = exchange(server, head)
    assert reply.startswith(b"HTTP/1.1 431")


def test_headers_just_under_the_limit_and_a_large_body_pass(server) -> None:
    body = b"x" * (4 << 20)
    head = request(b"X-Big: " + b"v" * (LIMIT - 400) + b"\r\n", body)
    assert len(head) < LIMIT
    reply, _ = exchange(server, head, body)
    assert reply.startswith(b"HTTP/1.1 200") and b"\r\n%d\r\n" % len(body) in reply


def test_install_makes_it_uvicorns_default_protocol(monkeypatch) -> None:
    monkeypatch.setitem(HTTP_PROTOCOLS, "auto", HTTP_PROTOCOLS["auto"])
    monkeypatch.setitem(HTTP_PROTOCOLS, "httptools", HTTP_PROTOCOLS["httptools"])
    monkeypatch.setattr(HeaderLimitedProtocol, "limit", HeaderLimitedProtocol.limit)
    header_limit.install(32 * 1024)
    config = uvicorn.Config(echo_app)
    config.load()
    assert config.http_protocol_class is HeaderLimitedProtocol
    assert HeaderLimitedProtocol.limit == 32 * 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_six_concurrent_32_mb_headers_leave_the_worker_under_50_mb_more(server) -> None:
    """Before, six concurrent 32 MB headers took a worker from 199 to 416 MB."""
    head = request(b"X-Flood: " + b"f" * (32 << 20) + b"\r\n")  # one buffer, sent six times
    before = _rss_mb()
    replies: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: replies.append(exchange(server, head)[0])) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(replies) == 6 and all(r.startswith(b"HTTP/1.1 431") for r in replies)
    assert _rss_mb() - before < 50
