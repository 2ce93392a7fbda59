"""``GET /model-card`` (HTML) and ``GET /model-card.json``: the loaded model's own card.

Served by the service itself, so the card a GP or an EHR reads is always the one of the
model that scored their patient (an external URL need not match the version serving).
The card is rendered once per process from what was stored with the model
(:mod:`stroke_risk.core.model_card`); the API guard gates these paths with the docs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stroke_risk.core.model_card import MODEL_CARD_JSON_PATH, MODEL_CARD_PATH, model_card_html

CARD_PATHS = frozenset({MODEL_CARD_PATH, MODEL_CARD_JSON_PATH})
# The page holds no script and loads nothing from elsewhere.
_CSP = b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class ServedModelCard:
    """ASGI middleware answering the card's two paths; everything else passes through."""

    def __init__(self, app: Any, card: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.card = card
        self._bodies: dict[str, tuple[bytes, bytes]] = {}

    def _body(self, path: str) -> tuple[bytes, bytes]:
        """(content type, body) for ``path``, rendered on first use."""
        if path not in self._bodies:
            card = self.card()
            if path == MODEL_CARD_JSON_PATH:
                self._bodies[path] = (
                    b"application/json",
                    json.dumps(card, indent=1).encode(),
                )
            else:
                self._bodies[path] = (b"text/html; charset=utf-8", model_card_html(card).encode())
        return self._bodies[path]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or path not in CARD_PATHS:
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            body = json.dumps({"error": "the model card is read with GET"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"content-type", b"application/json"), (b"allow", b"GET, HEAD")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        content_type, body = self._body(path)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-security-policy", _CSP),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
        )
