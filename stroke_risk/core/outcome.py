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

import math
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

OUTCOME_METADATA_KEY = "outcome"


# How a CDS card's indicator follows the band, for a model allowed to alert at all.
ALERT_INDICATORS: dict[str, str] = {"low": "info", "moderate": "warning", "high": "critical"}


def _per_100(probability: float) -> str:
    """'about 9 in 100'; below 1 in 100 as 'fewer than 1 in 100 (about 4 in 1,000)'.
    Halves round up, as people do (Python's round() sends 2.5 to 2)."""
    per_100 = math.floor(100 * probability + 0.5)
    if per_100 >= 1:
        return f"about {per_100} in 100"
    per_1000 = math.floor(1000 * probability + 0.5)
    if per_1000 >= 1:
        return f"fewer than 1 in 100 (about {per_1000} in 1,000)"
    return "fewer than 1 in 1,000"


class OutcomeSummary(BaseModel):
    """What a number is, in the few fields every reply carries, and the words for it.

    Every channel's wording comes from these properties, so that a history label is never
    called a risk and an incident one always names its horizon. Replies carry this part of
    the record (with its ``label``); the model card carries the whole :class:`ModelOutcome`.
    """

    # 'ignore': a reply's outcome also holds the derived 'label', read back by the app.
    model_config = ConfigDict(frozen=True, extra="ignore")

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

    @model_validator(mode="after")
    def _horizon_matches_kind(self) -> Self:
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
    def within_horizon(self) -> str:
        """``"within 5 years"`` (``"within 1 year"``); empty for a history outcome."""
        if self.horizon_years is None:
            return ""
        years = self.horizon_words.removesuffix("-year")
        return f"within {years} year{'' if years == '1' else 's'}"

    @property
    def may_alert(self) -> bool:
        """Whether an EHR card may be more than ``info``: a future risk, validated elsewhere."""
        return self.is_prospective and self.validation == "external"

    @computed_field(  # type: ignore[prop-decorator]
        description="What the number is, in one phrase: e.g. 'stroke history among similar "
        "adults in the data (not a future risk)' or '5-year risk of stroke'."
    )
    @property
    def label(self) -> str:
        """The one phrase for the number, used as the headline in every channel."""
        if self.is_prospective:
            return f"{self.horizon_words} risk of stroke"
        return "stroke history among similar adults in the data (not a future risk)"

    @property
    def headline(self) -> str:
        """The label as a heading: 'Stroke history among similar adults ... '."""
        return self.label[:1].upper() + self.label[1:]

    @property
    def short_label(self) -> str:
        """For tight spaces (a CDS card's 140-character summary, a table's header)."""
        return f"{self.horizon_words} stroke risk" if self.is_prospective else "Stroke history"

    @property
    def not_prospective(self) -> str:
        """Why a history number is not a forecast; empty for an incident outcome."""
        if self.is_prospective:
            return ""
        return (
            "Not a prospective risk: the model learned from a cross-sectional data set whose "
            "label is a stroke history, so it does not estimate the chance of a future stroke."
        )

    def natural_frequency(self, probability: float, who: str = "adults like this") -> str:
        """The number as people count: 'About 9 in 100 adults like this in the data had had
        a stroke.' or 'About 9 in 100 adults like this have a stroke within 5 years.'"""
        count = _per_100(probability)
        if self.is_prospective:
            return f"{count.capitalize()} {who} have a stroke {self.within_horizon}."
        return f"{count.capitalize()} {who} in the data had had a stroke."

    def for_the_patient(self, probability: float) -> str:
        """The same, spoken to the patient (the printed handout), in short sentences."""
        per_100 = math.floor(100 * probability + 0.5)
        people = "people like you" + ("" if self.is_prospective else " in the records")
        if per_100 >= 1:
            count = f"Of 100 {people}, about {per_100}"
        else:
            count = f"Fewer than 1 in 100 {people}"
        if self.is_prospective:
            return f"{count} have a stroke {self.within_horizon}."
        return (
            f"{count} had already had a stroke. This does not tell you if you will have a "
            "stroke in the future."
        )

    @property
    def probability_description(self) -> str:
        """The API's description of ``probability``."""
        if self.is_prospective:
            return (
                f"Calibrated {self.horizon_words} risk of stroke: the probability of a first "
                f"stroke {self.within_horizon} after the record."
            )
        return (
            "Calibrated probability that an adult like this in the development data had a "
            "stroke history (a stroke before or at the time of the record). " + self.not_prospective
        )

    @property
    def api_description(self) -> str:
        """The service's one-paragraph description (OpenAPI ``info.description``)."""
        what = (
            f"The {self.horizon_words} risk of stroke for adult patients"
            if self.is_prospective
            else "How common a stroke history is among adults like the patient in the "
            "development data"
        )
        caveat = "" if self.is_prospective else f" {self.not_prospective}"
        return f"{what}, calibrated and explained: decision support, not a diagnosis.{caveat}"

    @property
    def fhir_outcome_text(self) -> str:
        """``RiskAssessment.prediction.outcome.text``."""
        if self.is_prospective:
            return f"Stroke {self.within_horizon}"
        return "History of stroke (cross-sectional label; not a future stroke)"

    @property
    def ranking(self) -> str:
        """What a worklist ranks by, in one sentence."""
        if self.is_prospective:
            return f"Ranked by {self.label}, highest first."
        return (
            "Ranked by how common a stroke history is among similar adults in the data, "
            "highest first: not by a future risk, which this model does not estimate."
        )

    def band_label(self, band: str) -> str:
        """'High band' for a history number; 'High risk' only for a risk."""
        noun = "risk" if self.is_prospective else "band"
        return f"{band.capitalize()} {noun}"

    def cds_indicator(self, band: str | None) -> str:
        """A CDS card's indicator: ``info`` unless the record allows alerting
        (:attr:`may_alert`); then the band's (moderate ``warning``, high ``critical``)."""
        if not self.may_alert or band is None:
            return "info"
        return ALERT_INDICATORS.get(band, "info")


class ModelOutcome(OutcomeSummary):
    """The outcome a stored model estimates, as recorded at training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_source: str = Field(description="Where the development data came from, in words.")

    def as_metadata(self) -> dict[str, Any]:
        """The record as saved with the model (the derived ``label`` is not saved)."""
        return self.model_dump(exclude_none=True, exclude={"label"})

    def summary(self) -> OutcomeSummary:
        """The part every reply carries."""
        return OutcomeSummary(
            kind=self.kind, horizon_years=self.horizon_years, validation=self.validation
        )


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
    if recorded is None:
        return KAGGLE_HISTORY
    # The label is derived from the record; a copy saved with it reads the same.
    return ModelOutcome.model_validate({k: v for k, v in recorded.items() if k != "label"})


def outcome_of_reply(reply: dict[str, Any] | None) -> OutcomeSummary:
    """The outcome a reply (as a dict) names; a reply without one came from a model saved
    before the record existed, which was trained on the Kaggle history."""
    recorded = (reply or {}).get(OUTCOME_METADATA_KEY)
    if recorded is None:
        return KAGGLE_HISTORY.summary()
    return OutcomeSummary.model_validate(recorded)
