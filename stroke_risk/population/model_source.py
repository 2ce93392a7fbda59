"""Where the job's model comes from: the BentoML model store, or a file exported from it.

On a cluster the model travels as a file (``bentoml models export TAG model.bentomodel``),
not from a local store: it is imported into a private, temporary store and read with the
same :func:`~stroke_risk.scoring.store.load_lean` as the service, so a lean copy that
drifted from its pipeline is refused here too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import bentoml
from bentoml._internal.models.model import ModelStore

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.assessment.model_loading import assessor_from_stored
from stroke_risk.core.config import Settings
from stroke_risk.scoring.store import StoredLean, get_model, load_lean

MODEL_FILE_SUFFIX = ".bentomodel"


def is_model_file(model: str) -> bool:
    """Whether ``--model`` names an exported file rather than a tag in the store."""
    return model.endswith(MODEL_FILE_SUFFIX)


def load_stored_lean(model: str) -> StoredLean:
    """The lean model, profile and intervals for a store tag or an exported model file."""
    if not is_model_file(model):
        return load_lean(get_model(model))
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(
            f"no model file at {model}: export one with `bentoml models export TAG {path.name}`"
        )
    # A private store, so reading a file never touches (or needs) the user's own store.
    store = ModelStore(tempfile.mkdtemp(prefix="stroke-risk-model-"))
    imported = bentoml.models.import_model(str(path), _model_store=store)
    return load_lean(imported)


def build_assessor(stored: StoredLean, settings: Settings) -> RiskAssessor:
    """The service's assessor, exactly as :func:`stroke_risk.assessment.model_loading` builds it."""
    return assessor_from_stored(stored, settings)
