"""The HTTP API's reply models: what every channel (API, app, clients) promises to return.

The service builds msgspec Structs with the same fields for speed
(:mod:`stroke_risk.assessment.results`); these pydantic models document the reply in the
OpenAPI document, and the app and clients validate replies with them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stroke_risk.core.outcome import OutcomeSummary

# Short, because it is repeated in every result of a batch; the README and model card
# carry the full caveats (educational data set, label is a history of stroke).
DISCLAIMER = "Decision support, not a diagnosis. See the model card for its limits."

RiskBand = Literal["low", "moderate", "high"]


class Factor(BaseModel):
    """One factor's share of the difference between this patient and the reference patient.

    Shares are exact on the log-odds scale (Shapley values of the calibrated log-odds, which
    for the additive models shipped here are each factor's own term): the listed
    ``log_odds`` plus ``other_factors_log_odds`` equal logit(probability) minus
    logit(reference_patient.probability), and the ``odds_ratio``s multiply to the ratio of
    the two odds. On the probability scale no such exact split exists.
    """

    factor: str = Field(description="Field name, e.g. 'age'.")
    label: str
    value: float | int | str | None = Field(description="The patient's value.")
    reference_value: float | int | str = Field(description="The reference patient's value.")
    odds_ratio: float = Field(
        description="How many times this factor multiplies the odds compared with the "
        "reference patient's value (above 1 raises the risk)."
    )
    log_odds: float = Field(description="The same on the log-odds scale: log(odds_ratio).")
    direction: Literal["raises", "lowers", "none"]


class WhatIf(BaseModel):
    """The model's risk if one modifiable factor were at a healthy value, all else unchanged.

    Only for factors whose effect this data set can estimate (the model card shows the
    evidence); the others get guideline ``guidance`` instead.
    """

    factor: str
    change: str = Field(description="What would change, e.g. 'bring average glucose to 99'.")
    current_value: float | str
    target_value: float | str
    probability: float
    absolute_reduction: float = Field(description="Current probability minus this one.")


class Guidance(BaseModel):
    """Advice from clinical guidelines, NOT estimated by this model or its data."""

    factor: str
    advice: str
    why_not_from_model: str = Field(description="Why this data set cannot estimate it.")
    source: str = Field(description="Where the advice comes from.")


class ReferencePatient(BaseModel):
    """Whom the drivers compare the patient with: the typical adult of the training data."""

    description: str = Field(description="e.g. 'a 50.5-year-old woman who never smoked, ...'.")
    probability: float = Field(description="The model's probability for the reference patient.")
    values: dict[str, float | int | str] = Field(description="The reference patient's fields.")


class PeerComparison(BaseModel):
    """The average risk of training patients of the same sex and age band."""

    group: str = Field(description="e.g. 'Female, 60-69'.")
    patients: int
    average_risk: float = Field(description="Mean calibrated risk the model gives the group.")
    observed_rate: float = Field(description="Share of the group with a recorded stroke.")
    relative_risk: float = Field(description="This patient's probability / average_risk.")


class Assessment(BaseModel):
    """One patient's result. Decision support, not a diagnosis."""

    # The service's OpenAPI document replaces this with the loaded model's own words
    # (OutcomeSummary.probability_description); this is what a history model's number is.
    probability: float = Field(
        ge=0,
        le=1,
        description="The model's calibrated probability of its outcome, named in `outcome`: "
        "for a model trained on a stroke history (the shipped one), how common a stroke "
        "history is among similar adults in the development data, not a future risk.",
    )
    probability_interval: list[float] | None = Field(
        min_length=2,
        max_length=2,
        description="[low, high]: 95% of bootstrap refits of the whole training procedure "
        "give this patient a probability in this range. Wider where the data are thin. "
        "null only for models trained before intervals existed.",
    )
    percent: float = Field(description="The probability as a percentage, one decimal.")
    risk_band: RiskBand
    # A list, not a tuple: a tuple's JSON schema ("prefixItems") is beyond what many
    # OpenAPI tools and client generators read.
    risk_band_thresholds: list[float] = Field(
        min_length=2, max_length=2, description="low < first <= moderate < second <= high."
    )
    comparison: PeerComparison
    reference_patient: ReferencePatient
    contributing_factors: list[Factor] = Field(description="Largest shares first.")
    other_factors_log_odds: float = Field(
        description="The log-odds share of the factors not listed, so that the shares add up."
    )
    what_if: list[WhatIf] = Field(
        description="Only supported factors, and only where not already at a healthy value."
    )
    guidance: list[Guidance] = Field(
        description="Guideline advice for factors this data set cannot estimate; not from "
        "the model."
    )
    warnings: list[str]
    model_tag: str
    disclaimer: str = DISCLAIMER
    outcome: OutcomeSummary = Field(
        description="What `probability` is, from the model's own record: a stroke history "
        "(no horizon) or an incident stroke within `horizon_years`; every channel's words "
        "follow its `label`."
    )


class BatchResults(BaseModel):
    """One result per patient, in the order the patients were given."""

    results: list[Assessment]


class FieldError(BaseModel):
    """One problem with the request: where it is and which rule it breaks (never the value)."""

    type: str = Field(description="pydantic's error type, e.g. 'less_than_equal'.")
    loc: list[str | int] = Field(description="Where: e.g. ['patients', 3, 'age'].")
    msg: str = Field(description="The rule broken, e.g. 'Input should be less than 120'.")
    url: str | None = Field(default=None, description="pydantic's page about the error type.")


class ErrorResponse(BaseModel):
    """Every refusal (4xx) and failure (5xx) of the scoring API: one sentence, then details."""

    error: str = Field(description="What is wrong, in one sentence a person can act on.")
    detail: list[FieldError] | None = Field(
        default=None,
        description="For invalid input (400): the problems, one per field (unknown fields: one "
        "per object), at most 20, then a 'too_many_errors' entry for the rest.",
    )
