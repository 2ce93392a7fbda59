"""The HTTP API's reply models: what every channel (API, app, clients) promises to return.

The service builds msgspec Structs with the same fields for speed
(:mod:`stroke_risk.assessment.results`); these pydantic models document the reply in the
OpenAPI document, and the app and clients validate replies with them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stroke_risk.core.outcome import OutcomeSummary

# Short, because it is repeated in every result of a batch; the manual
# (docs/explanation/model-and-limits.md) and the model card carry the full caveats
# (educational data set, label is a history of stroke).
DISCLAIMER = "Decision support, not a diagnosis. See the model card for its limits."

RiskBand = Literal["low", "moderate", "high"]
FactorKind = Literal["clinical", "context"]
DataSupport = Literal["adequate", "thin"]

# The one name of ``probability_interval``: every channel shows these words beside it (and
# never the range over unrecorded fields under the same name).
INTERVAL_NAME = (
    "model instability: the same model refitted on resamples of the data, settings fixed; "
    "not the uncertainty of this patient's risk"
)

# Residence, work and marriage: associations in this data set, not things a patient can or
# should change; the reply lists them apart from the clinical factors.
CONTEXT_FACTORS: tuple[str, ...] = ("ever_married", "work_type", "residence_type")


class Factor(BaseModel):
    """One factor's share of the difference between this patient and the reference patient.

    Shares are exact on the log-odds scale (Shapley values of the calibrated log-odds, which
    for the additive models shipped here are each factor's own term): the listed
    ``log_odds`` (``contributing_factors`` and ``context_factors``) plus
    ``other_factors_log_odds`` equal logit(probability) minus
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
    kind: FactorKind = Field(
        description="'clinical' (age, sex, conditions, glucose, BMI, smoking) or 'context' "
        "(residence, work, marriage): context is how this data set's patients differ, not "
        "something to change."
    )


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
    source: str = Field(description="The guideline the advice comes from, named.")


class NotRecorded(BaseModel):
    """A field the record does not hold, and what the estimate did about it.

    No learned "not recorded" effect is ever used: a blank BMI is filled with a typical
    value, and smoking not recorded is scored as the most common known status, with the
    range over every known status beside it (as the FHIR path does for unrecorded fields).
    """

    factor: str
    assumed_value: float | str = Field(description="The value the estimate actually used.")
    probability_range: list[float] | None = Field(
        min_length=2,
        max_length=2,
        description="[lowest, highest] probability over every allowed value of the field; "
        "null where only a typical value is assumed (BMI).",
    )
    note: str = Field(description="One sentence saying what was assumed.")


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
        description="[low, high]: 95% of the model's refits on bootstrap resamples of the "
        "data (same family and settings) give this patient a probability in this range: "
        "model instability (interval_name), not the uncertainty of the patient's risk, and "
        "hardly wider where data are thin (see data_support). null only for models trained "
        "before intervals existed.",
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
    contributing_factors: list[Factor] = Field(
        description="Clinical factors only, largest shares first. A field not recorded "
        "(smoking 'Unknown') is never listed: see not_recorded."
    )
    context_factors: list[Factor] = Field(
        description="Residence, work and marriage, always apart from the clinical factors: "
        "how this data set's patients differ, never something to change."
    )
    other_factors_log_odds: float = Field(
        description="The log-odds share of the factors not listed, so that the shares "
        "(contributing_factors, context_factors and this) add up."
    )
    what_if: list[WhatIf] = Field(
        description="Only where the data show an effect for this patient (an age-adjusted "
        "effect within the patient's own range that excludes no effect, from the model's "
        "validation record), and only where not already at a healthy value."
    )
    guidance: list[Guidance] = Field(
        description="Guideline advice, each citing its guideline; not from the model."
    )
    warnings: list[str]
    interval_name: str = Field(
        default=INTERVAL_NAME, description="What probability_interval is, in words."
    )
    interval_crosses_band_edge: bool = Field(
        description="The interval spans more than one risk band: the band is not settled."
    )
    data_support: DataSupport = Field(
        description="'thin' where few training patients are like this one (few strokes in "
        "the patient's sex and age group, or a category rare in training); the interval "
        "does not widen to show it, so this flag does."
    )
    data_support_note: str | None = Field(description="Why the support is thin; null if not.")
    beyond_data: bool = Field(
        description="A value lies outside the range of the training data: the estimate is "
        "extrapolated, not an ordinary estimate."
    )
    extrapolated_fields: list[str] = Field(description="The fields beyond the training data.")
    beyond_data_note: str | None = Field(
        description="Each extrapolated value and the range the model covers; null if none."
    )
    ranking_caveat: str | None = Field(
        description="Where the model's own validation shows it barely ranks patients of "
        "this age band (numbers from that record); null without such a record."
    )
    not_recorded: list[NotRecorded] = Field(
        description="Fields the record does not hold and what was assumed for each."
    )
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
