"""A reply sent in pieces whose last piece ends it, for the batch route.

Starlette's StreamingResponse sends its pieces and then an empty message that ends the
reply. The client has every byte (the length is known) before that empty message is sent,
so it may send its next batch while the server still counts the first one as running:
BatchAdmission frees a worker's place when the reply ends, and refused the next batch
with 503. Here the last piece itself ends the reply, as a one-piece Response's body does.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class PiecesResponse(Response):
    """``pieces`` sent one after another, with their total length; the last ends the reply."""

    def __init__(
        self,
        pieces: Sequence[bytes | memoryview],
        media_type: str,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(b"", media_type=media_type, background=background)
        self.pieces = list(pieces) or [b""]
        length = sum(len(piece) for piece in self.pieces)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.raw_headers.append((b"content-length", str(length).encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.pieces) - 1
        for index, piece in enumerate(self.pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < last})
        if self.background is not None:
            await self.background()
