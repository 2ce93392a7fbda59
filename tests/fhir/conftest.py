"""Fixtures of the EHR-integration tests: the quick model's assessor, in process."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def assessor(quick_training):
    """The service's RiskAssessor for the session's quick model, loaded as the service does."""
    import bentoml

    from stroke_risk.assessment.model_loading import load_assessor
    from stroke_risk.core.config import get_settings

    return load_assessor(bentoml.models.get(get_settings().model_tag), get_settings())


def with_outcome(assessor, outcome, settings=None):
    """The same model's assessor with another outcome record (e.g. a hand-made incident one)
    and, optionally, other settings: what a channel says follows the record alone."""
    from stroke_risk.assessment.assessor import RiskAssessor

    return RiskAssessor(
        assessor.lean,
        assessor.profile,
        settings or assessor.settings,
        assessor.model_tag,
        intervals=assessor.intervals,
        outcome=outcome,
    )
