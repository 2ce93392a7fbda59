"""Fetch what a CDS Hooks request did not prefetch from the EHR's FHIR server (fhirpy).

Only the searches of the discovery document's prefetch templates are made, with the
access token the EHR sent (``fhirAuthorization``), and all of them within one timeout:
an EHR that is slow to answer gets a "could not read the record" card, not a hung chart.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fhirpy import AsyncFHIRClient

from stroke_risk.fhir.cds_hooks import observation_codes
from stroke_risk.fhir.codes import code_lists
from stroke_risk.fhir.mapping import parse_resource


class FetchFailed(Exception):
    """The FHIR server could not be read; the message is safe to show (no patient data)."""


async def _fetch(client: AsyncFHIRClient, patient_id: str, keys: list[str]) -> list[Any]:
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
            search = client.resources(resource_type).search(patient=patient_id, **params)
            found += await search.fetch_all()
    return found


async def fetch_missing(
    server: str, token: str | None, patient_id: str, keys: list[str], timeout: float
) -> list[Any]:
    """Parsed resources for the missing prefetch ``keys`` of one patient."""
    client = AsyncFHIRClient(server, authorization=f"Bearer {token}" if token else None)
    try:
        raw = await asyncio.wait_for(_fetch(client, patient_id, keys), timeout)
    except TimeoutError:
        raise FetchFailed(f"the FHIR server did not answer within {timeout:g} s") from None
    except Exception as error:  # aiohttp, HTTP status and fhirpy errors alike
        raise FetchFailed(f"the FHIR server could not be read ({type(error).__name__})") from None
    return [r for r in (parse_resource(resource.serialize()) for resource in raw) if r is not None]
