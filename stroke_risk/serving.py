"""What the service needs from the model store, and nothing more.

Serving reads the lean numpy model and the training profile saved with the pipeline; it
never unpickles the scikit-learn pipeline itself, so the service process imports neither
scikit-learn nor XGBoost (about 150 MB less per process).
"""

from __future__ import annotations

import bentoml
from bentoml.exceptions import NotFound

from stroke_risk.assessment import RiskAssessor
from stroke_risk.config import Settings
from stroke_risk.lean import LeanModel, LeanModelError
from stroke_risk.profile import TrainingProfile

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


def load_assessor(model: bentoml.Model, settings: Settings) -> RiskAssessor:
    """The explained-risk scorer for a stored model, refusing one whose lean copy drifted."""
    gap = model.info.metadata.get("lean_max_difference", 1.0)
    if gap > LEAN_TOLERANCE:
        raise LeanModelError(f"lean model differs from the pipeline by {gap:.2e}")
    lean: LeanModel = model.custom_objects["lean"]
    profile = TrainingProfile.model_validate(model.custom_objects["profile"])
    return RiskAssessor(lean, profile, settings, str(model.tag))
