"""BentoML's request timeout, without holding every request in memory until it expires.

BentoML 1.4.40's ``TimeoutMiddleware`` (``bentoml/_internal/server/http/traffic.py``)
arms ``loop.call_later(timeout, ...)`` for every request and never cancels it. The timer
keeps a copy of the request's context (its OpenTelemetry span, BentoML's request
context), and through it the request itself, until the timeout has passed however soon
the reply went out. Measured with a 5 s timeout and two workers: each worker grew by about
28 MB under load, a worker that had just answered a 10,000-patient batch held about 45 MB
more for those 5 s, and with BentoML's default 60 s timeout full garbage collections over
the retained objects paused workers for 100-250 ms (bench/README.md).

:class:`CancellingTimeoutMiddleware` behaves as BentoML's does (504 with the same body
when no reply has started within the timeout) but gives its timer an empty context and
cancels it once the request is done. :func:`install` puts it in BentoML's place; the
service and the benchmark's no-op both call it before BentoML builds their ASGI apps. The
fix is small enough to offer upstream; until then this module depends on the pinned
version's internals, and its tests say so if they change.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send


class CancellingTimeoutMiddleware(traffic.TimeoutMiddleware):
    """BentoML's timeout middleware with a timer that lets go of the request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        # An empty context: the timer only needs the future, not the request's context.
        timer = loop.call_later(
            self.timeout, self._set_timer_out, waiter, context=contextvars.Context()
        )

        async def _send(message: Message) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        reply = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
        try:
            await waiter
        except TimeoutError:
            if reply.cancel():
                timed_out = JSONResponse(
                    {"error": f"Not able to process the request in {self.timeout} seconds"},
                    status_code=504,
                )
                await timed_out(scope, receive, send)
        else:
            await reply
        finally:
            timer.cancel()


def install() -> None:
    """Make BentoML build its apps with :class:`CancellingTimeoutMiddleware`.

    BentoML imports ``TimeoutMiddleware`` from ``traffic`` each time it assembles an app's
    middleware, so replacing the module attribute is enough.
    """
    traffic.TimeoutMiddleware = CancellingTimeoutMiddleware
