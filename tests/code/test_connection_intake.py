"""Taking new connections: every queued one at once, with bounded receive buffers, and no
more accepting once told to stop."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import uvicorn
import uvloop

from stroke_risk.serving import connection_intake

# Not a size the system picks by itself (its first buffer is tcp_rmem's default, 128 KB).
RECEIVE_BUFFER = 48 * 1024


def queued_listener(connections: int) -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket nobody has accepted from, with ``connections`` clients in its queue."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setblocking(False)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(connections)]
    return listener, clients


def run_on_uvloop(scenario):
    """``scenario()`` on a new uvloop loop (the service's), in a thread of its own: a
    browser test's loop may be running in this one."""

    def run():
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(scenario())

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def test_every_queued_connection_is_taken_in_one_wake():
    listener, clients = queued_listener(30)
    made: list[asyncio.BaseTransport] = []

    class Counting(asyncio.Protocol):
        def connection_made(self, transport):
            made.append(transport)

    async def scenario():
        loop = asyncio.get_running_loop()
        first = connection_intake.accept_all_queued(listener, loop, Counting)
        for _ in range(100):
            if len(made) == first:
                break
            await asyncio.sleep(0.01)
        second = connection_intake.accept_all_queued(listener, loop, Counting)
        for transport in made:
            transport.close()
        return first, second

    try:
        assert run_on_uvloop(scenario) == (30, 0)
        assert len(made) == 30
    finally:
        listener.close()
        for client in clients:
            client.close()


def test_a_short_queue_is_left_to_the_event_loops_own_accepting():
    """So that with several workers each takes its share, and a killed worker strands
    nothing it had not started."""
    listener, clients = queued_listener(connection_intake.BURST)

    async def scenario():
        loop = asyncio.get_running_loop()
        return connection_intake.accept_all_queued(listener, loop, asyncio.Protocol)

    try:
        assert connection_intake.queued_connections(listener) == connection_intake.BURST
        assert run_on_uvloop(scenario) == 0
    finally:
        listener.close()
        for client in clients:
            client.close()


def test_one_wake_takes_a_bounded_number(monkeypatch):
    monkeypatch.setattr(connection_intake, "ACCEPTS_PER_WAKE", 5)
    listener, clients = queued_listener(12)

    async def scenario():
        loop = asyncio.get_running_loop()
        taken = connection_intake.accept_all_queued(listener, loop, asyncio.Protocol)
        await asyncio.sleep(0.05)
        return taken

    try:
        assert run_on_uvloop(scenario) == 5
    finally:
        listener.close()
        for client in clients:
            client.close()


@pytest.fixture
def server_with_intake(monkeypatch, request):
    """A uvicorn server on uvloop, started with a listening socket as BentoML's workers are,
    with the intake installed for ``request.param`` workers (one unless parametrized;
    uvicorn restored afterwards). Yields (server, url, loop)."""
    monkeypatch.setattr(uvicorn.Server, "startup", uvicorn.Server.startup)
    connection_intake.install(RECEIVE_BUFFER, workers=getattr(request, "param", 1))

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, loop="uvloop", lifespan="off", log_level="error"))
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve():
        loops.append(asyncio.get_running_loop())
        await server.serve(sockets=[listener])

    thread = threading.Thread(target=lambda: run_on_uvloop(serve), daemon=True)
    thread.start()
    # `started` is set inside uvicorn's startup, and the intake is attached just after it
    # returns: on a busy machine the test could look in between, so wait for both.
    workers = getattr(request, "param", 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        server.started and (workers != 1 or getattr(server, "_stroke_risk_intake", None))
    ):
        time.sleep(0.02)
    host, port = listener.getsockname()
    try:
        yield server, f"http://{host}:{port}", loops[0]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def test_a_server_takes_connections_through_it_with_the_set_receive_buffer(server_with_intake):
    server, url, _ = server_with_intake
    assert len(server._stroke_risk_intake) == 1
    with requests.Session() as session:
        assert session.get(url).text == "ok"
        (connection,) = server.server_state.connections
        accepted = connection.transport.get_extra_info("socket")
        # Linux doubles the value asked for, for its own bookkeeping.
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * RECEIVE_BUFFER


def test_stop_ends_its_accepting_and_leaves_the_listener_to_uvicorn(server_with_intake):
    server, url, loop = server_with_intake
    (duplicate,) = server._stroke_risk_intake
    done = threading.Event()
    loop.call_soon_threadsafe(lambda: (connection_intake.stop(server), done.set()))
    assert done.wait(5)
    assert server._stroke_risk_intake == [] and duplicate.fileno() == -1
    assert requests.get(url, timeout=5).text == "ok"  # uvicorn's own accepting goes on


@pytest.mark.parametrize("server_with_intake", [2], indirect=True)
def test_with_several_workers_nothing_changes(server_with_intake):
    """Each worker takes one connection per turn, so a burst is shared between them and a
    killed worker strands nothing it had grabbed; buffers are the system's."""
    server, url, _ = server_with_intake
    assert getattr(server, "_stroke_risk_intake", []) == []
    with requests.Session() as session:
        assert session.get(url).text == "ok"
        (connection,) = server.server_state.connections
        accepted = connection.transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) != 2 * RECEIVE_BUFFER


def test_the_uvicorn_step_it_wraps_is_still_there():
    """connection_intake wraps Server.startup of the pinned uvicorn and builds its protocol
    as uvicorn does: if either changes, the module needs a look."""
    original = connection_intake._original_startup
    assert inspect.iscoroutinefunction(original)
    assert list(inspect.signature(original).parameters) == ["self", "sockets"]
    source = inspect.getsource(original)
    for piece in (
        "config.http_protocol_class(",
        "server_state=self.server_state",
        "app_state=self.lifespan.state",
        "loop.create_server(create_protocol, sock=sock",
    ):
        assert piece in source, piece
