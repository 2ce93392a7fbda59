"""Saving the trained model to, and loading it back from, the BentoML model store.

Whichever family wins, the saved object is the calibrated scikit-learn pipeline (the
reference implementation, used by the tests and for audits); the lean numpy copy that the
service evaluates and the training profile travel with it as custom objects, and the
evidence (every candidate's CV scores, test metrics, data hash, schema, versions) as
metadata, so a model can be judged from the store alone.
"""

from __future__ import annotations

import math
import platform
from dataclasses import asdict, dataclass
from typing import Any

import bentoml
import numpy as np
import pandas as pd
import sklearn
import xgboost

from stroke_risk.core.config import MODEL_NAME
from stroke_risk.core.model_card import MODEL_CARD_KEY
from stroke_risk.core.outcome import ModelOutcome, outcome_from_metadata
from stroke_risk.core.schema import Patient
from stroke_risk.scoring.intervals import ProbabilityIntervals
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.store import ModelNotFoundError, get_model
from stroke_risk.training.survival import CohortTrainingResult
from stroke_risk.training.train import TrainingResult


@dataclass(frozen=True)
class StoredModel:
    """A model loaded back from the store."""

    tag: str
    pipeline: Any  # the calibrated scikit-learn pipeline
    lean: LeanModel
    profile: TrainingProfile
    metadata: dict[str, Any]

    @property
    def outcome(self) -> ModelOutcome:
        """What the model's number is: its metadata's record (a stroke history if none)."""
        return outcome_from_metadata(self.metadata)

    def horizon(self, asked: float | None, if_history: str) -> float:
        """The horizon in years to work at: ``asked``, else the model's own. A model of a
        stroke history has none, and a horizon must be asked for: ``if_history`` tells the
        person which, and why."""
        horizon = asked or self.outcome.horizon_years
        if horizon is None:
            raise ValueError(
                f"{self.tag} estimates a stroke history, not a risk within a horizon: " + if_history
            )
        return horizon


def jsonable(value: Any) -> Any:
    """Plain Python types, NaN and infinities as None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def training_metadata(result: TrainingResult) -> dict[str, Any]:
    """Everything needed to judge the model later, as JSON-compatible values."""
    return jsonable(
        {
            "winner": result.winner,
            "selection": result.selection,
            "n_development": result.n_development,
            "interval_refits": len(result.interval_refits),
            "candidates": [asdict(c) for c in result.candidates],
            "test_metrics": result.test_metrics,
            "test_metrics_uncalibrated": result.test_uncalibrated,
            "test_ci95": result.test_ci,
            "data_sha256": result.data_sha256,
            "seed": result.seed,
            "quick": result.quick,
            "n_train": result.n_train,
            "n_test": result.n_test,
            "calibration": "Platt (sigmoid) on 5-fold out-of-fold scores",
            "feature_schema": Patient.model_json_schema(),
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "xgboost": xgboost.__version__,
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "bentoml": bentoml.__version__,
            },
            **result.extra,
        }
    )


def save_model(result: TrainingResult, model_card: dict[str, Any] | None = None) -> str:
    """Save the winner as ``stroke_risk_model`` and return its full tag.

    ``model_card``: what the served card needs from validation
    (:func:`stroke_risk.validation.served_card.card_record`), stored as a custom object (it
    holds nulls, e.g. a subgroup without strokes has no AUC, which BentoML's metadata
    refuses) so the service can show it without any training library."""
    metadata = training_metadata(result)
    extra_objects = {} if model_card is None else {MODEL_CARD_KEY: jsonable(model_card)}
    saved = bentoml.sklearn.save_model(
        MODEL_NAME,
        result.model,
        signatures={"predict_proba": {"batchable": False}},
        labels={"family": result.winner, "quick": str(result.quick).lower()},
        metadata=metadata,
        custom_objects={
            "lean": result.lean,
            "profile": result.profile.model_dump(),
            "intervals": ProbabilityIntervals.from_lean_models(result.interval_refits),
            **extra_objects,
        },
    )
    return str(saved.tag)


def load_stored_model(tag: str | bentoml.Model) -> StoredModel:
    """Load the pipeline, its lean copy and profile; a clear error if the tag is absent."""
    model = tag if isinstance(tag, bentoml.Model) else get_model(tag)
    return StoredModel(
        tag=str(model.tag),
        pipeline=bentoml.sklearn.load_model(model),
        lean=model.custom_objects["lean"],
        profile=TrainingProfile.model_validate(model.custom_objects["profile"]),
        metadata=dict(model.info.metadata),
    )


def save_cohort_model(
    result: CohortTrainingResult,
    validation: dict[str, Any] | None = None,
    name: str = MODEL_NAME,
) -> str:
    """Save a cohort model as a new version of ``stroke_risk_model``, like the shipped one:
    the reference model, its lean copy, profile and intervals, so every channel serves it
    unchanged; its outcome record, cohort, lineage and validation summary as metadata."""
    metadata = result.metadata()
    if validation is not None:
        metadata["internal_validation"] = _validation_summary(validation)
    saved = bentoml.sklearn.save_model(
        name,
        result.model,
        signatures={"predict_proba": {"batchable": False}},
        labels={
            "family": result.family,
            "outcome": f"incident-{result.horizon_years:g}y",
            "quick": "false",
        },
        metadata=_without_none(jsonable(metadata)),
        custom_objects={
            "lean": result.lean,
            "profile": result.profile.model_dump(),
            **({"intervals": result.intervals} if result.intervals is not None else {}),
        },
    )
    return str(saved.tag)


def _validation_summary(validation: dict[str, Any]) -> dict[str, Any]:
    """The headline figures kept with the model (the full report lives in reports/): a
    trained model's internal validation, or an update's apparent measures on its cohort."""
    summary = validation.get("validation") or {
        "kind": validation["kind"],
        "apparent": validation["measures"],
    }
    apparent = summary["apparent"]
    return {
        "kind": summary["kind"],
        "corrected": summary.get("corrected"),
        "apparent": {
            key: apparent[key]
            for key in (
                "patients",
                "strokes_by_horizon",
                "observed_risk",
                "expected_risk",
                "observed_expected",
                "harrell_c",
                "uno_c",
                "auc_at_horizon",
            )
        },
        "calibration_slope": apparent["calibration"]["slope"],
    }


def _without_none(value: Any) -> Any:
    """BentoML's metadata refuses None: leave such keys out (NaN became None in jsonable)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


__all__ = [
    "ModelNotFoundError",
    "StoredModel",
    "load_stored_model",
    "save_cohort_model",
    "save_model",
]
