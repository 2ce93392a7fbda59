"""The pieces of a graceful shutdown: draining on SIGTERM, and a listener that lets no new
connection in while still handing over the ones already queued."""

from __future__ import annotations

import inspect
import signal
import socket
import threading
import time

import pytest
import uvicorn

from stroke_risk.serving import graceful_shutdown

linux_only = pytest.mark.skipif(
    not hasattr(socket, "TCP_INFO"), reason="socket filters and TCP_INFO are Linux's"
)


@pytest.fixture
def patched(monkeypatch):
    """install() with uvicorn and the draining flag restored afterwards."""
    monkeypatch.setattr(uvicorn.Server, "handle_exit", uvicorn.Server.handle_exit)
    monkeypatch.setattr(uvicorn.Server, "shutdown", uvicorn.Server.shutdown)
    monkeypatch.setattr(graceful_shutdown, "_draining", threading.Event())
    return graceful_shutdown.install


def uvicorn_server() -> uvicorn.Server:
    async def app(scope, receive, send):  # never called
        raise AssertionError

    return uvicorn.Server(uvicorn.Config(app))


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_sigterm_drains_first_and_stops_after_the_grace_period(patched):
    patched(0.3)
    server = uvicorn_server()
    server.handle_exit(signal.SIGTERM, None)
    assert graceful_shutdown.is_draining()  # /readyz answers 503 from now on
    assert not server.should_exit  # ...while requests are still served
    assert wait_until(lambda: server.should_exit)


def test_a_second_sigterm_does_not_cut_the_grace_period_short(patched):
    patched(60)
    server = uvicorn_server()
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)  # the arbiter forwards the one it got
    assert not server.should_exit and not server.force_exit


def test_ctrl_c_still_stops_at_once(patched):
    patched(60)
    server = uvicorn_server()
    server.handle_exit(signal.SIGINT, None)
    assert server.should_exit
    assert graceful_shutdown.is_draining()


def test_the_uvicorn_steps_it_replaces_are_still_there():
    """graceful_shutdown wraps these two methods of the pinned uvicorn: if they change,
    the module needs a look."""
    assert list(inspect.signature(uvicorn.Server.handle_exit).parameters) == [
        "self",
        "sig",
        "frame",
    ]
    assert inspect.iscoroutinefunction(uvicorn.Server.shutdown)
    assert list(inspect.signature(uvicorn.Server.shutdown).parameters) == ["self", "sockets"]


@linux_only
def test_a_filtered_listener_takes_no_new_connection_but_hands_over_queued_ones():
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        address = listener.getsockname()
        queued = socket.create_connection(address, timeout=5)
        assert wait_until(lambda: graceful_shutdown.queued_connections(listener) == 1)

        assert graceful_shutdown.refuse_new_connections(listener)

        late = socket.socket()
        late.settimeout(0.5)
        with pytest.raises(OSError):  # its SYN goes unanswered: it never gets in
            late.connect(address)
        late.close()
        accepted, _ = listener.accept()  # the one queued before is still served
        with accepted, queued:
            queued.sendall(b"ping")
            assert accepted.recv(4) == b"ping"
        assert graceful_shutdown.queued_connections(listener) == 0
