"""A limit on a request's line and headers, enforced while they arrive (431 beyond it).

Why here and not in the ASGI guard: an ASGI app sees a request only once the server has
parsed every header, and uvicorn's httptools protocol sets no limit of its own (llhttp
hands each header over whole, and ``h11_max_incomplete_event_size`` applies to h11
only). A 64 MB header was accepted after 23 s; six concurrent 32 MB headers took a worker
from 199 to 416 MB. So the count is kept in the protocol, on the bytes as they arrive:
while a request's headers are incomplete, at most the allowance left is handed to the
parser, and a request that needs more is answered 431 and its connection closed, before
more than the limit is held.

:func:`install` points uvicorn's ``auto`` and ``httptools`` protocols at the class below
(uvicorn reads its protocol table when each worker's server starts, after service.py has
run). Like the other modules that adjust uvicorn, this depends on the pinned uvicorn's
``HttpToolsProtocol`` (``data_received``, ``on_headers_complete``, ``on_message_complete``);
tests/code/test_header_limit.py runs it in a real uvicorn server.
"""

from __future__ import annotations

import json

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REFUSAL = "request headers larger than {limit} bytes: send fewer or shorter headers"


def refusal_bytes(limit: int) -> bytes:
    """The whole 431 reply: fixed, small, and naming the limit."""
    body = json.dumps({"error": REFUSAL.format(limit=limit)}).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, handing the parser at most ``limit`` bytes of a
    request's line and headers."""

    limit = 64 * 1024

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._in_headers = True

    def on_message_complete(self) -> None:
        # The next request on this connection starts counting afresh. (Not at
        # on_message_begin: the parser calls it after the first piece was counted.)
        super().on_message_complete()
        self._in_headers = True
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        while self._in_headers and data:
            allowance = self.limit - self._header_bytes
            if allowance <= 0:
                self.transport.write(refusal_bytes(self.limit))
                self.transport.close()
                return
            piece, data = data[:allowance], data[allowance:]
            self._header_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)


def install(limit: int) -> None:
    """Use :class:`HeaderLimitedProtocol` with ``limit`` for uvicorn's default protocol."""
    HeaderLimitedProtocol.limit = limit
    name = f"{__name__}:HeaderLimitedProtocol"
    HTTP_PROTOCOLS["auto"] = name
    HTTP_PROTOCOLS["httptools"] = name
