"""Taking new connections promptly while batch bodies pour in: all queued at once, in small reads.

Why (security review): with 64 batches (145 MB) arriving at one worker, ``/readyz`` took
up to 400 ms although the event loop itself never stalled for more than about 30 ms. The
time was spent before the probe's connection was even accepted: the worker's event loop
(uvloop, on libuv) accepts **one** connection per loop iteration, and each iteration reads
whatever every open connection has received, up to megabytes per connection, because Linux
lets a fast sender fill a receive buffer that grows to ``tcp_rmem``'s maximum (32 MB here).
64 connections arriving together took 64 such iterations to accept, and a health check that
came just after them waited behind all of them. Measured with strace and the request trace
in bench/README.md ("Health checks under a flood of batches").

Two changes in uvicorn's server start-up, made only by a worker alone on its listening
socket (a one-worker task, such as a 0.5-vCPU Fargate task, where health checks have no
other worker to answer them); with several workers nothing changes:

1. A second watcher on the listening socket (a duplicate descriptor of it) accepts all
   queued connections whenever more than ``BURST`` are waiting, and hands each to the
   event loop (``loop.connect_accepted_socket``) with uvicorn's own protocol, as uvicorn's
   server does. A short queue is left to the loop's own accepting (in C, cheaper per
   connection), which takes it within a turn or two.
   Several workers on one socket keep taking one per turn: a burst is then shared between
   them, and a worker killed with ``kill -9`` takes down only the requests it was serving.
   A worker that grabbed bursts took down 4-14 of 16 clients' requests in
   bench_resilience's kill scenario (two workers), against 2-3 without it.
2. The listening socket's receive buffer is set to ``receive_buffer`` bytes (accepted
   connections inherit it), so one loop iteration reads at most that much from each
   connection, and an iteration stays a few milliseconds long however many bodies arrive.
   A batch still arrives at full speed: on loopback, or a load balancer in the same
   network, 64 KB in flight per connection is far from a limit (bench/README.md).

:func:`stop` removes the watcher; graceful_shutdown calls it just before uvicorn closes its
listener, so nothing is accepted after uvicorn stops accepting. Like the other modules that
adjust uvicorn (graceful_shutdown), this depends on the pinned uvicorn's ``Server.startup``;
its tests say so if that changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from typing import Any

import uvicorn

logger = logging.getLogger("stroke_risk.connections")

_original_startup = uvicorn.Server.startup
INTERNET = (socket.AF_INET, socket.AF_INET6)  # TCP listeners; a Unix socket has no queue to ask
ACCEPTS_PER_WAKE = 1024  # bounded, so a connection storm cannot hold the loop for long
BURST = 4  # more connections than this waiting at once are taken together
TCP_INFO_UNACKED = struct.Struct("I")  # tcp_info.tcpi_unacked, at byte 24


def queued_connections(listener: socket.socket) -> int:
    """How many connections wait in ``listener``'s accept queue (Linux reports a listening
    socket's queue length as ``tcpi_unacked``); -1 where the system cannot say."""
    if not hasattr(socket, "TCP_INFO"):
        return -1
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return TCP_INFO_UNACKED.unpack_from(info, 24)[0]


def accept_all_queued(
    listener: socket.socket, loop: asyncio.AbstractEventLoop, protocol_factory: Any
) -> int:
    """When more than ``BURST`` connections wait on ``listener`` (or the system cannot say),
    accept them all (at most ACCEPTS_PER_WAKE) and hand each to ``loop`` with a new protocol
    from ``protocol_factory``. How many were taken."""
    try:
        if 0 <= queued_connections(listener) <= BURST:
            return 0  # the loop's own accepting takes a short queue within a turn or two
    except OSError:
        pass  # cannot say: take them
    taken = 0
    while taken < ACCEPTS_PER_WAKE:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            break  # the queue is empty (or the loop's own accept took the last one)
        except OSError as error:  # e.g. out of file descriptors: the loop's accept reports it
            logger.warning("Could not accept a connection: %s", error)
            break
        connection.setblocking(False)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Creating the transport is quick but a coroutine: the loop runs it at once.
        loop.create_task(loop.connect_accepted_socket(protocol_factory, connection))
        taken += 1
    return taken


def _watch(server: uvicorn.Server, listener: socket.socket, receive_buffer: int) -> None:
    """Bound the receive buffer of ``listener``'s connections and watch a duplicate of the
    socket for bursts (for a worker alone on it)."""
    loop = asyncio.get_running_loop()
    config = server.config

    def protocol_factory() -> asyncio.Protocol:
        # What uvicorn's own create_protocol builds (uvicorn/server.py, Server.startup).
        return config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=server.server_state, app_state=server.lifespan.state
        )

    if receive_buffer:  # on the listening socket: each accepted connection inherits it
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    duplicate = socket.socket(fileno=os.dup(listener.fileno()))
    duplicate.setblocking(False)
    loop.add_reader(duplicate.fileno(), accept_all_queued, duplicate, loop, protocol_factory)
    server._stroke_risk_intake = [*getattr(server, "_stroke_risk_intake", []), duplicate]  # type: ignore[attr-defined]


def stop(server: uvicorn.Server) -> None:
    """Stop this module's accepting (before uvicorn closes its listener)."""
    loop = asyncio.get_running_loop()
    for duplicate in getattr(server, "_stroke_risk_intake", []):
        loop.remove_reader(duplicate.fileno())
        duplicate.close()  # only the duplicate descriptor: the socket stays open
    server._stroke_risk_intake = []  # type: ignore[attr-defined]


def install(receive_buffer: int, workers: int = 1) -> None:
    """When this is the only one of ``workers`` on the socket, give its connections
    ``receive_buffer``-byte receive buffers (0: the system's default, which grows with the
    sender) and accept a burst of queued connections at once."""

    async def startup(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        await _original_startup(self, sockets)
        # BentoML's workers always pass the arbiter's listening socket; a server that
        # opens its own (``uvicorn`` on the command line) keeps uvicorn's behaviour.
        for listener in sockets or ():
            if workers == 1 and listener.family in INTERNET and not self.should_exit:
                _watch(self, listener, receive_buffer)

    uvicorn.Server.startup = startup  # type: ignore[method-assign]
