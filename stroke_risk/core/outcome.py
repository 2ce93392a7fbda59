"""What a model's number is: its outcome, its horizon and how far it has been validated.

Every channel (API, app, PDF, FHIR RiskAssessment, CDS card, population worklists) takes
its words from this one record, saved with the model at training, so that no channel can
call a model trained on a *history* of stroke a "stroke risk". The shipped model is
trained on a cross-sectional data set whose label is whether the person had ever had a
stroke: its number is how common a stroke history is among similar adults in that data,
not the chance of a future stroke. A model trained on a cohort with follow-up records an
incident outcome and its horizon, and only then may a channel say "5-year risk of stroke".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OUTCOME_METADATA_KEY = "outcome"


class ModelOutcome(BaseModel):
    """The outcome a stored model estimates, as recorded at training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["history", "incident"] = Field(
        description=(
            "'history': the label is a stroke before or at the time of the record "
            "(cross-sectional, no horizon); 'incident': a first stroke within the horizon "
            "after an index date (a cohort with follow-up)."
        )
    )
    horizon_years: float | None = Field(
        default=None, gt=0, description="Years after the index date; only for 'incident'."
    )
    validation: Literal["internal", "external"] = Field(
        default="internal",
        description="'external' once validated on patients from elsewhere than its development.",
    )
    data_source: str = Field(description="Where the development data came from, in words.")

    @model_validator(mode="after")
    def _horizon_matches_kind(self) -> ModelOutcome:
        if self.kind == "incident" and self.horizon_years is None:
            raise ValueError("an incident outcome needs horizon_years")
        if self.kind == "history" and self.horizon_years is not None:
            raise ValueError("a history outcome has no horizon")
        return self

    @property
    def is_prospective(self) -> bool:
        """Whether the number is a chance of a future stroke (only with follow-up data)."""
        return self.kind == "incident"

    @property
    def horizon_words(self) -> str:
        """``"5-year"`` or ``"2.5-year"``; empty for a history outcome."""
        if self.horizon_years is None:
            return ""
        years = self.horizon_years
        return f"{int(years) if float(years).is_integer() else years}-year"

    @property
    def may_alert(self) -> bool:
        """Whether an EHR card may be more than ``info``: a future risk, validated elsewhere."""
        return self.is_prospective and self.validation == "external"


# The shipped model's record: the Kaggle "Stroke Prediction Dataset" (educational use).
KAGGLE_HISTORY = ModelOutcome(
    kind="history",
    data_source=(
        "Kaggle 'Stroke Prediction Dataset' (5,110 people, cross-sectional, published for "
        "educational purposes): the label records a stroke history, not a future stroke"
    ),
)


def outcome_from_metadata(metadata: dict[str, Any]) -> ModelOutcome:
    """The outcome recorded with a stored model; models saved before the record existed
    were all trained on the Kaggle data, so they read as its history outcome."""
    recorded = metadata.get(OUTCOME_METADATA_KEY)
    return KAGGLE_HISTORY if recorded is None else ModelOutcome.model_validate(recorded)
