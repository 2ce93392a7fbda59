"""Stopping a worker without losing a request: drain, refuse new connections, finish.

What happens on SIGTERM (``docker stop``, ECS stopping a task, ``kill``): BentoML's
arbiter (circus) forwards it to each worker, a uvicorn server, and waits for them to
exit before it closes the listening socket and exits itself (with 0). Left as is, uvicorn
stops accepting at once, but the arbiter keeps the shared listening socket open until the
workers are gone, so connections opened in the meantime complete their handshake into
the socket's queue and are reset when it closes: 18 resets per run under load (security
review). :func:`install` changes two steps of uvicorn's server in each worker:

1. On SIGTERM the worker marks itself draining (``/readyz`` answers 503 from then on, see
   :func:`is_draining`) and goes on serving for ``grace_seconds``, long enough for a load
   balancer to stop sending it new connections. A second SIGTERM changes nothing; SIGINT
   (Ctrl+C in a terminal) still stops at once.
2. When it stops, the worker first makes the shared listening socket drop new connection
   attempts (a socket filter that drops every packet: a client's SYN goes unanswered and
   its retry finds the port closed, "connection refused", never a reset after connecting),
   then accepts whatever is already queued and waits until each accepted connection has
   sent its request (uvicorn would close one that has not), and only then lets uvicorn
   close its listener and wait for in-flight requests as before. Both waits are bounded
   (``QUEUE_DRAIN_SECONDS``); an idle keep-alive connection is closed as before.

The filter is Linux's classic BPF (``SO_ATTACH_FILTER``), the one thing the kernel offers
to stop a listening socket taking new connections without resetting queued ones; on
another system step 2 is skipped with a warning. Like :mod:`.request_timeout`, this
depends on the pinned uvicorn's internals (``Server.handle_exit`` and ``Server.shutdown``),
and its tests say so if they change.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from stroke_risk.serving import connection_intake
from stroke_risk.serving.connection_intake import INTERNET, queued_connections

logger = logging.getLogger("stroke_risk.shutdown")

_draining = threading.Event()
_original_handle_exit = uvicorn.Server.handle_exit
_original_shutdown = uvicorn.Server.shutdown

SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>
BPF_RET_K = 0x06  # BPF_RET | BPF_K: "return k bytes of the packet"; k = 0 drops it
QUEUE_DRAIN_SECONDS = 2.0


def is_draining() -> bool:
    """Whether this worker has been told to stop (``/readyz`` answers 503)."""
    return _draining.is_set()


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def refuse_new_connections(listener: socket.socket) -> bool:
    """Make ``listener`` (shared by every worker and the arbiter) drop all new connection
    attempts while what it has already queued can still be accepted. False where the
    system has no socket filters."""
    if not sys.platform.startswith("linux"):
        return False
    drop_all = _SockFilter(BPF_RET_K, 0, 0, 0)
    program = _SockFprog(1, ctypes.pointer(drop_all))
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(program))
    return True


def _listeners(server: uvicorn.Server, sockets: list[socket.socket] | None) -> list[socket.socket]:
    if sockets:
        return list(sockets)
    found = []
    for asyncio_server in getattr(server, "servers", []):
        for transport_socket in asyncio_server.sockets or ():
            found.append(socket.socket(fileno=transport_socket.fileno()))
    return found


async def _shutdown(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
    """uvicorn's shutdown, after closing the door gently (step 2 above)."""
    _draining.set()
    listeners = [s for s in _listeners(self, sockets) if s.family in INTERNET]
    try:
        filtered = [s for s in listeners if refuse_new_connections(s)]
    except OSError as error:
        logger.warning("Could not stop new connections before shutting down: %s", error)
        filtered = []
    if listeners and not filtered:
        logger.warning("New connections arriving during shutdown may be reset (no socket filter)")
    deadline = time.monotonic() + QUEUE_DRAIN_SECONDS
    # The event loop keeps accepting meanwhile: wait until every queued connection is taken.
    while filtered and time.monotonic() < deadline:
        try:
            if not any(queued_connections(s) for s in filtered):
                break
        except OSError:
            break
        await asyncio.sleep(0.01)
    # uvicorn's shutdown closes every connection that has not started a request, which a
    # connection accepted a moment ago may not have yet: give those time to send theirs.
    while time.monotonic() < deadline and any(
        getattr(connection, "cycle", True) is None for connection in self.server_state.connections
    ):
        await asyncio.sleep(0.01)
    if not sockets:
        for listener in listeners:
            listener.detach()  # the asyncio server owns the descriptor and closes it
    connection_intake.stop(self)  # its accepting ends with uvicorn's
    await _original_shutdown(self, sockets)


def install(grace_seconds: float) -> None:
    """Make uvicorn drain for ``grace_seconds`` on SIGTERM, then stop without resets."""

    def handle_exit(self: uvicorn.Server, sig: int, frame: Any) -> None:
        if sig != signal.SIGTERM:
            _draining.set()
            _original_handle_exit(self, sig, frame)
            return
        if _draining.is_set() or self.should_exit:
            return  # already on its way out: the arbiter forwards the signal it got too
        _draining.set()
        logger.info(
            "SIGTERM: /readyz now answers 503; serving for %s s more, then stopping",
            grace_seconds,
        )
        if grace_seconds <= 0:
            _original_handle_exit(self, sig, frame)
            return
        # A timer thread only sets uvicorn's flag, which its main loop reads every 0.1 s.
        timer = threading.Timer(grace_seconds, _original_handle_exit, (self, sig, frame))
        timer.daemon = True
        timer.start()

    uvicorn.Server.handle_exit = handle_exit  # type: ignore[method-assign]
    uvicorn.Server.shutdown = _shutdown  # type: ignore[method-assign]
