"""What the served model card needs from `make validate`, saved with the model.

The service renders the card (:mod:`stroke_risk.core.model_card`) without any training
library, so the validation figures it shows are chosen here, at training time, and stored
in the model's metadata under ``model_card``: the optimism-corrected performance, the
intended population's (adults') own figures, the comparison with age alone, prediction
instability, and the subgroup table (the fairness evidence). Every number is copied from
the dict :func:`stroke_risk.validation.validate.validate_chosen_model` returns (also
``reports/metrics.json``), never recomputed.
"""

from __future__ import annotations

from typing import Any

SUBGROUP_FIELDS = (
    "grouping",
    "group",
    "patients",
    "strokes",
    "observed_rate",
    "mean_predicted",
    "roc_auc",
    "roc_auc_ci",
    "observed_expected",
    "calibration_slope",
    "note",
)
INSTABILITY_FIELDS = (
    "bootstrap_models",
    "mean_absolute_prediction_error",
    "median_interval_width",
    "unstable_band_share",
)


def _corrected(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"apparent": values.get("apparent"), "corrected": values.get("corrected")}
        for name, values in metrics.items()
        if isinstance(values, dict) and "corrected" in values
    }


def card_record(
    validation: dict[str, Any] | None, test_subgroups: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The ``model_card`` metadata: validation figures when validated, else the held-out
    test split's subgroup table alone (the card says validation was not recorded)."""
    if validation is None:
        return {"validation": None, "subgroups": test_subgroups or []}
    adults = validation.get("intended_population", {})
    age_only = validation.get("benchmarks", {}).get("age_only", {}).get("model_minus_benchmark", {})
    instability = validation.get("instability", {})
    summary = {
        "method": "bootstrap optimism correction (Harrell) and repeated cross-validation of the "
        "whole fitting procedure on the development data",
        "patients": validation.get("validation", {}).get("patients"),
        "strokes": validation.get("validation", {}).get("strokes"),
        "optimism_corrected": _corrected(
            validation.get("validation", {}).get("optimism_corrected", {}).get("metrics", {})
        ),
        "adults": {
            "definition": adults.get("definition"),
            "patients": adults.get("patients"),
            "strokes": adults.get("strokes"),
            "repeated_cv_out_of_fold": adults.get("repeated_cv_out_of_fold"),
            "age_only_roc_auc": adults.get("age_only_roc_auc"),
        },
        "model_minus_age_only": {
            name: age_only[name] for name in ("roc_auc", "brier") if name in age_only
        },
        "instability": {name: instability.get(name) for name in INSTABILITY_FIELDS},
    }
    subgroups = [
        {name: row.get(name) for name in SUBGROUP_FIELDS} for row in validation.get("subgroups", [])
    ]
    return {"validation": summary, "subgroups": subgroups}
