"""Response models of the HTTP API, for its OpenAPI document and its clients."""

from __future__ import annotations

from pydantic import BaseModel

from stroke_risk.assessment import Assessment


class BatchResults(BaseModel):
    """One result per patient, in the order the patients were given."""

    results: list[Assessment]
