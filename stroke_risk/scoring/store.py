"""Reading the lean model and its training profile from the BentoML model store.

Serving and population scoring read only these two custom objects; they never unpickle
the scikit-learn pipeline saved beside them, so neither process imports scikit-learn nor
XGBoost (about 150 MB less per process). A model whose lean copy drifted from its
pipeline by more than ``LEAN_TOLERANCE`` at training time is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bentoml
from bentoml.exceptions import NotFound

from stroke_risk.core.evidence import ReplyEvidence, evidence_from_metadata
from stroke_risk.core.model_card import MODEL_CARD_KEY, served_model_card
from stroke_risk.core.outcome import ModelOutcome, outcome_from_metadata
from stroke_risk.scoring.intervals import ProbabilityIntervals
from stroke_risk.scoring.lean import LeanModel, LeanModelError
from stroke_risk.scoring.profile import TrainingProfile

LEAN_TOLERANCE = 1e-5  # probability; float32 sums inside XGBoost differ by ~1e-6


class ModelNotFoundError(LookupError):
    """No trained model in the store under the requested tag."""


def get_model(tag: str) -> bentoml.Model:
    """The stored model for ``tag``, or an error that says what to do."""
    try:
        return bentoml.models.get(tag)
    except NotFound as exc:
        raise ModelNotFoundError(
            f"no model '{tag}' in the BentoML model store: run `make train`"
        ) from exc


def model_exists(tag: str) -> bool:
    """Whether the store holds a model under ``tag`` (e.g. ``stroke_risk_model:latest``)."""
    try:
        get_model(tag)
    except ModelNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class StoredLean:
    """What scoring needs from a stored model."""

    tag: str
    lean: LeanModel
    profile: TrainingProfile
    # None for models trained before intervals existed: their replies carry no interval.
    intervals: ProbabilityIntervals | None
    # What the number is (stroke history, or incident stroke within a horizon): every
    # channel's wording follows it.
    outcome: ModelOutcome
    # The model card the service serves (HTI-1 source attributes), from what was stored.
    model_card: dict[str, Any]
    # What the reply may quote (glucose effects by range, ranking by age band); empty for
    # models saved before it was recorded: no glucose what-if and no ranking caveat then.
    evidence: ReplyEvidence


def load_lean(model: bentoml.Model) -> StoredLean:
    """The stored lean model, profile and intervals, refusing a lean copy that drifted."""
    gap = model.info.metadata.get("lean_max_difference", 1.0)
    if gap > LEAN_TOLERANCE:
        raise LeanModelError(f"lean model differs from the pipeline by {gap:.2e}")
    objects = model.custom_objects
    metadata = dict(model.info.metadata)
    profile = TrainingProfile.model_validate(objects["profile"])
    outcome = outcome_from_metadata(metadata)
    return StoredLean(
        tag=str(model.tag),
        lean=objects["lean"],
        profile=profile,
        intervals=objects.get("intervals"),
        outcome=outcome,
        model_card=served_model_card(
            str(model.tag), metadata, profile.model_dump(), outcome, objects.get(MODEL_CARD_KEY)
        ),
        evidence=evidence_from_metadata(model.info.metadata),
    )
