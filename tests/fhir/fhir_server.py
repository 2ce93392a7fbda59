"""A minimal FHIR R4 server for the tests, on a free 127.0.0.1 port, in a thread.

Why not a real one: `fhirsnake` (PyPI) ignores search parameters (every search returns
every resource of the type) and pins Starlette 0.38, which would break BentoML; Medplum
needs PostgreSQL, Redis and more memory than this 2-core machine can spare; HAPI needs a
Java registry. This responder answers exactly the interactions the CDS service makes,
as a FHIR server does: read (``GET /Patient/{id}``) and search by ``patient`` and
``code`` (comma-separated ``system|code`` tokens) returning a ``searchset`` Bundle, with
``Authorization: Bearer`` checked, ``application/fhir+json`` replies, and an optional
delay to test the client's timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FhirServerState:
    """What the server holds and how it misbehaves when a test asks it to: a redirect
    for every request, a ``next`` link in every searchset, or a reply padded to a size."""

    resources: list[dict[str, Any]]
    token: str
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)
    tokens_seen: list[str | None] = field(default_factory=list)
    redirect_to: str | None = None
    next_link: str | None = None
    padding_bytes: int = 0
    declare_length: bool = True


def _patient_of(resource: dict[str, Any]) -> str | None:
    if resource["resourceType"] == "Patient":
        return resource.get("id")
    reference = (resource.get("subject") or {}).get("reference", "")
    return reference.rsplit("/", 1)[-1].removeprefix("urn:uuid:") or None


def _has_code(resource: dict[str, Any], tokens: list[str]) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    for token in tokens:
        system, _, code = token.rpartition("|")
        if any(
            c.get("code") == code and (not system or c.get("system") == system) for c in codings
        ):
            return True
    return False


def _handler(state: FhirServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            state.requests.append(self.path)
            state.tokens_seen.append(self.headers.get("Authorization"))
            time.sleep(state.delay)
            if state.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(
                    401,
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "login"}],
                    },
                )
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if len(parts) == 2:
                found = [
                    r
                    for r in state.resources
                    if r["resourceType"] == parts[0] and r.get("id") == parts[1]
                ]
                return (
                    self._send(200, found[0])
                    if found
                    else self._send(
                        404,
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "not-found"}],
                        },
                    )
                )
            matches = [
                r
                for r in state.resources
                if r["resourceType"] == parts[0]
                and (
                    "patient" not in query or _patient_of(r) == query["patient"].rsplit("/", 1)[-1]
                )
                and ("code" not in query or _has_code(r, query["code"].split(",")))
            ]
            bundle: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [{"resource": r, "search": {"mode": "match"}} for r in matches],
            }
            if state.next_link is not None:
                bundle["link"] = [{"relation": "next", "url": state.next_link}]
            return self._send(200, bundle)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            if state.padding_bytes:  # the JSON, then spaces: a valid, very large reply
                self._send_padded(status, payload)
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_padded(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            if state.declare_length:
                self.send_header("Content-Length", str(len(payload) + state.padding_bytes))
            self.end_headers()
            block = b" " * 65536
            try:
                self.wfile.write(payload)
                for _ in range(state.padding_bytes // len(block)):
                    self.wfile.write(block)
            except OSError:  # the client stopped reading: what the test wants
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fhir_server(state: FhirServerState) -> Iterator[str]:
    """The server's base URL while the block runs; stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
