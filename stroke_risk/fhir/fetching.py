"""Fetch what a CDS Hooks request did not prefetch from the EHR's FHIR server (fhirpy).

Only the searches of the discovery document's prefetch templates are made, with the
access token the EHR sent (``fhirAuthorization``), and all of them within one budget
(STROKE_FHIR_FETCH_TIMEOUT, shorter than the request's own timeout): an EHR that is slow
to answer gets a "could not read the record" card, not a hung chart or a 504.

The token goes only where the allow list says (stroke_risk/core/allowed_urls.py), and the
fetch is bounded, as OWASP's SSRF guidance asks:
- every URL requested, the hook's ``fhirServer`` and each search page's ``next`` link, is
  checked against the allowed base *before* the request (fhirpy itself only checks that
  the base appears somewhere in a ``next`` link);
- redirects are not followed (a 3xx is a refusal): the target was never checked;
- reply bodies are read in chunks up to a total byte cap, and requests and resources per
  call are capped, so an endless ``next`` chain or a 400 MB reply costs little;
- what the caller is told is one fixed sentence per kind of failure (:data:`FAILURES`),
  never the exception: closed, filtered and unresolvable addresses read the same, so the
  card cannot be used to scan a network.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from fhirpy import AsyncFHIRClient
from fhirpy.base.utils import AttrDict

from stroke_risk.core.allowed_urls import Base, parse_base
from stroke_risk.fhir.cds_hooks import observation_codes
from stroke_risk.fhir.codes import code_lists
from stroke_risk.fhir.mapping import parse_resource

logger = logging.getLogger("stroke_risk.fhir")

FAILURES = {
    "unreachable": "the FHIR server could not be reached",
    "refused": "the FHIR server refused the request",
    "too_large": "the FHIR server's reply was larger than this service reads",
    "unusable": "the FHIR server's reply was not a FHIR resource this service can use",
    "timed_out": "the FHIR server did not answer within {budget:g} s",
}
CHUNK_BYTES = 64 * 1024


class FetchFailed(Exception):
    """The FHIR server could not be read; the message is one of :data:`FAILURES`."""

    def __init__(self, kind: str, budget: float = 0.0) -> None:
        super().__init__(FAILURES[kind].format(budget=budget))
        self.kind = kind


@dataclass
class FetchLimits:
    """What one call may take from the FHIR server (STROKE_FHIR_FETCH_*)."""

    budget_seconds: float
    max_bytes: int
    max_requests: int
    max_resources: int


class _BoundedClient(AsyncFHIRClient):
    """fhirpy's client, with each request checked against the allowed base, no redirects,
    and bodies read up to what is left of the call's byte cap.

    Replaces fhirpy 2.3.1's ``_do_request`` (the one method that talks HTTP; pinned in the
    Pipfile): its own reads a whole body into memory and follows redirects.
    """

    def __init__(self, base: Base, limits: FetchLimits, url: str, token: str | None) -> None:
        super().__init__(url, authorization=f"Bearer {token}" if token else None)
        self.allowed = base
        self.bytes_left = limits.max_bytes
        self.requests_left = limits.max_requests

    async def _do_request(  # type: ignore[override]
        self,
        method: str,
        path: str,
        data: Any = None,
        params: Any = None,
        extra_headers: Any = None,
        *,
        returning_status: bool = False,
    ) -> Any:
        try:
            url = self._build_request_url(path, params)
        except ValueError:  # fhirpy: an absolute next link outside the base URL
            raise FetchFailed("unusable") from None
        if method.lower() != "get" or not self.allowed.contains(url):
            raise FetchFailed("unusable")
        self.requests_left -= 1
        if self.requests_left < 0:
            raise FetchFailed("too_large")
        try:
            async with (
                aiohttp.ClientSession(headers=self._build_request_headers()) as session,
                session.get(url, allow_redirects=False) as reply,
            ):
                if not 200 <= reply.status < 300:
                    raise FetchFailed("refused")
                body = await self._read(reply)
        except aiohttp.ClientError:
            raise FetchFailed("unreachable") from None
        try:
            parsed = json.loads(body, object_hook=AttrDict)
        except ValueError:
            raise FetchFailed("unusable") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("resourceType"), str):
            raise FetchFailed("unusable")
        return (parsed, 200) if returning_status else parsed

    async def _read(self, reply: aiohttp.ClientResponse) -> bytes:
        """The body, or FetchFailed as soon as it passes what is left of the byte cap."""
        declared = reply.content_length
        if declared is not None and declared > self.bytes_left:
            raise FetchFailed("too_large")
        chunks = []
        async for chunk in reply.content.iter_chunked(CHUNK_BYTES):
            self.bytes_left -= len(chunk)
            if self.bytes_left < 0:
                raise FetchFailed("too_large")
            chunks.append(chunk)
        return b"".join(chunks)


async def _fetch(
    client: _BoundedClient, patient_id: str, keys: list[str], max_resources: int
) -> list[Any]:
    found: list[Any] = []
    if "patient" in keys:
        found.append(await client.reference("Patient", patient_id).to_resource())
    field_system = code_lists()["non_clinical"]["system"]
    searches = {
        "observations": ("Observation", {"code": ",".join(observation_codes())}),
        "fieldObservations": (
            "Observation",
            {
                "code": ",".join(
                    f"{field_system}|{c}" for c in code_lists()["non_clinical"]["codes"]
                )
            },
        ),
        "conditions": ("Condition", {}),
    }
    for key, (resource_type, params) in searches.items():
        if key in keys:
            async for resource in client.resources(resource_type).search(
                patient=patient_id, **params
            ):
                found.append(resource)
                if len(found) > max_resources:
                    raise FetchFailed("too_large")
    return found


async def fetch_missing(
    server: str,
    allowed: Base,
    token: str | None,
    patient_id: str,
    keys: list[str],
    limits: FetchLimits,
) -> list[Any]:
    """Parsed resources for the missing prefetch ``keys`` of one patient, read from
    ``server`` (which the caller has checked lies under ``allowed``): every page must too."""
    base = parse_base(server)
    if base is None or not allowed.contains(server):
        raise FetchFailed("unusable")
    client = _BoundedClient(base, limits, server, token)
    try:
        raw = await asyncio.wait_for(
            _fetch(client, patient_id, keys, limits.max_resources), limits.budget_seconds
        )
    except TimeoutError:
        raise FetchFailed("timed_out", limits.budget_seconds) from None
    except FetchFailed as failure:
        logger.info("FHIR fetch refused: %s", failure.kind)
        raise
    except Exception as error:  # fhirpy's own errors: the kind is logged, never shown
        logger.warning("FHIR fetch failed: %s", type(error).__name__)
        raise FetchFailed("unusable") from None
    return [r for r in (parse_resource(resource.serialize()) for resource in raw) if r is not None]
