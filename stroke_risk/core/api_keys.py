"""Who may call the service: the API keys, compared in constant time, and the start-up rule.

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The comparison
hashes the given key and every configured key to SHA-256 digests and compares the given
digest with each of them, all of them every time: ``any(hmac.compare_digest(...))`` stops
at the first match (revealing which key matched) and ``compare_digest`` on strings of
different lengths returns at once (revealing the keys' lengths); equal-length digests and
no early exit reveal neither.

The start-up rule (security review): no keys means the service is open to anyone who can reach
it, so it starts without keys only when ``STROKE_ALLOW_ANONYMOUS=true`` says so by name.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from stroke_risk.core.config import Settings

KEY_REQUIRED = (
    "no API keys: set STROKE_API_KEYS (comma-separated keys), or STROKE_ALLOW_ANONYMOUS=true "
    "to serve without keys (local development only)"
)


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def given_key(authorization: bytes, x_api_key: bytes) -> bytes:
    """The key a caller sent: the bearer token if there is one, else ``X-API-Key``."""
    if authorization[:7].lower() == b"bearer ":
        return authorization[7:].strip()
    return x_api_key


class KeyRing:
    """The configured keys, kept as digests; empty means no key is required."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key.encode()) for key in keys)

    def __len__(self) -> int:
        return len(self._digests)

    def accepts(self, given: bytes) -> bool:
        """Whether ``given`` is one of the keys, comparing with every key (no early exit)."""
        if not self._digests:
            return True
        digest = _digest(given)
        matched = False
        for key in self._digests:
            matched |= hmac.compare_digest(digest, key)
        return matched and bool(given)


def serving(argv: Sequence[str] = sys.argv) -> bool:
    """Whether this process is about to serve requests: ``bentoml serve``'s main process or
    one of its workers. ``bentoml build`` and ``python service.py --openapi`` import the
    service only to describe it, and need no keys."""
    program = Path(argv[0]) if argv else Path()
    worker = program.parts[-3:] == ("_bentoml_impl", "worker", "service.py")
    return worker or (program.name == "bentoml" and list(argv[1:2]) in (["serve"], ["serve-http"]))


def startup_refusal(settings: Settings) -> str | None:
    """Why the service must not start with these settings, or None."""
    if not settings.api_keys and not settings.allow_anonymous:
        return KEY_REQUIRED
    return None


def startup_summary(settings: Settings) -> str:
    """The start-up log line on access: whether keys are on and how many (never the keys)."""
    count = len(settings.api_keys)
    if count:
        return (
            f"API keys: on ({count} key{'s' if count != 1 else ''}); "
            f"docs: {settings.docs}, metrics: {settings.metrics}"
        )
    return (
        "API keys: OFF (STROKE_ALLOW_ANONYMOUS=true): anyone who can reach this service can "
        "call it; set STROKE_API_KEYS before exposing it"
    )
