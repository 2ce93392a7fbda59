"""Loading a stored model for serving: a lean copy that drifted from its pipeline is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stroke_risk.assessment.model_loading import load_assessor
from stroke_risk.core.config import Settings
from stroke_risk.scoring.lean import LeanModelError
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.store import LEAN_TOLERANCE, load_lean

EMPTY_PROFILE = TrainingProfile(reference={}, ranges={}, category_counts={}, peers={})
LEAN = object()  # never used when the model is refused; handed back as is when it is not


def stored(**metadata: float) -> SimpleNamespace:
    """What load_lean reads of a BentoML model: the training metadata and custom objects."""
    return SimpleNamespace(
        tag="stroke_risk_model:test",
        info=SimpleNamespace(metadata=metadata),
        custom_objects={"lean": LEAN, "profile": EMPTY_PROFILE.model_dump()},
    )


def load_for_serving(model: SimpleNamespace) -> object:
    return load_assessor(model, Settings())


@pytest.mark.parametrize("load", [load_lean, load_for_serving], ids=["load_lean", "service"])
@pytest.mark.parametrize("gap", [2 * LEAN_TOLERANCE, 0.01])
def test_a_model_whose_lean_copy_drifted_from_its_pipeline_is_refused(load, gap):
    with pytest.raises(LeanModelError, match=f"differs from the pipeline by {gap:.2e}"):
        load(stored(lean_max_difference=gap))


def test_a_model_saved_without_the_drift_measured_is_refused():
    with pytest.raises(LeanModelError, match="differs from the pipeline"):
        load_lean(stored())


@pytest.mark.parametrize("gap", [0.0, LEAN_TOLERANCE])
def test_a_lean_copy_within_the_tolerance_is_served(gap):
    """The control: the same stored objects with a small enough gap load."""
    assert load_lean(stored(lean_max_difference=gap)) is not None
