"""Building the service's assessor from a stored model.

Only the lean numpy model and the training profile are read (:mod:`stroke_risk.scoring.store`):
the service process imports neither scikit-learn nor XGBoost.
"""

from __future__ import annotations

import bentoml

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.core.config import Settings
from stroke_risk.scoring.store import StoredLean, load_lean


def load_assessor(model: bentoml.Model, settings: Settings) -> RiskAssessor:
    """The explained-risk scorer for a stored model, refusing one whose lean copy drifted."""
    return assessor_from_stored(load_lean(model), settings)


def assessor_from_stored(stored: StoredLean, settings: Settings) -> RiskAssessor:
    """The assessor for a model already read from the store (the service and the
    population job build it the same way, so their replies name the same outcome)."""
    return RiskAssessor(
        stored.lean,
        stored.profile,
        settings,
        stored.tag,
        intervals=stored.intervals,
        outcome=stored.outcome,
        evidence=stored.evidence,
    )
