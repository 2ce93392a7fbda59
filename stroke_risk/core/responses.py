"""The HTTP API's reply models: what every channel (API, app, clients) promises to return.

The service builds msgspec Structs with the same fields for speed
(:mod:`stroke_risk.serving.results`); these pydantic models document the reply in the
OpenAPI document, and the app and clients validate replies with them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Short, because it is repeated in every result of a batch; the README and model card
# carry the full caveats (educational data set, label is a history of stroke).
DISCLAIMER = "Decision support, not a diagnosis. See the model card for its limits."

RiskBand = Literal["low", "moderate", "high"]


class Factor(BaseModel):
    """How much one factor moves this patient's risk compared with a typical value."""

    factor: str = Field(description="Field name, e.g. 'age'.")
    label: str
    value: float | int | str | None = Field(description="The patient's value.")
    typical_value: float | int | str = Field(description="The training population's typical value.")
    risk_if_typical: float = Field(description="Probability if only this factor were typical.")
    effect: float = Field(description="probability - risk_if_typical (positive raises risk).")
    direction: Literal["raises", "lowers", "none"]


class WhatIf(BaseModel):
    """The risk if one modifiable factor were at a healthy value, all else unchanged."""

    factor: str
    change: str = Field(description="What would change, e.g. 'stop smoking'.")
    current_value: float | str
    target_value: float | str
    probability: float
    absolute_reduction: float = Field(description="Current probability minus this one.")


class PeerComparison(BaseModel):
    """The average risk of training patients of the same sex and age band."""

    group: str = Field(description="e.g. 'Female, 60-69'.")
    patients: int
    average_risk: float = Field(description="Mean calibrated risk the model gives the group.")
    observed_rate: float = Field(description="Share of the group with a recorded stroke.")
    relative_risk: float = Field(description="This patient's probability / average_risk.")


class Assessment(BaseModel):
    """One patient's result. Decision support, not a diagnosis."""

    probability: float = Field(ge=0, le=1, description="Calibrated probability of stroke.")
    percent: float = Field(description="The probability as a percentage, one decimal.")
    risk_band: RiskBand
    risk_band_thresholds: tuple[float, float] = Field(
        description="low < first <= moderate < second <= high."
    )
    comparison: PeerComparison
    contributing_factors: list[Factor] = Field(description="Largest effects first.")
    what_if: list[WhatIf] = Field(description="Only factors not already at a healthy value.")
    warnings: list[str]
    model_tag: str
    disclaimer: str = DISCLAIMER


class BatchResults(BaseModel):
    """One result per patient, in the order the patients were given."""

    results: list[Assessment]
