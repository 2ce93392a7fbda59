"""The benchmark's synthetic patients: valid adults, marked as synthetic, in practices."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from stroke_risk.core.config import REPO_ROOT
from stroke_risk.core.patient_tables import parse_patients
from tests.population.conftest import MODEL_TAG
from tests.script_modules import load_script

pytestmark = pytest.mark.slow  # needs the session's trained model

synthetic = load_script(REPO_ROOT / "bench" / "synthetic_patients.py")


@pytest.fixture(scope="module")
def profile(stored_model):
    from stroke_risk.population.model_source import load_stored_lean

    return load_stored_lean(MODEL_TAG).profile


def test_every_synthetic_patient_passes_the_patient_schema(profile) -> None:
    frame = synthetic.synthetic_patients(profile, 3_000, seed=1)
    parsed = parse_patients(frame.astype(str))
    assert parsed.errors == []
    assert len(parsed.valid) == 3_000
    assert frame["id"].str.startswith("SYN-").all()
    assert frame["bmi"].isna().any() and frame["age"].min() >= 18


def test_synthetic_files_say_they_are_synthetic(profile, tmp_path) -> None:
    path = tmp_path / "patients.parquet"
    synthetic.write_parquet(synthetic.synthetic_patients(profile, 100), str(path))
    assert pq.read_schema(path).metadata[b"synthetic"] == b"true"
    assert len(pd.read_parquet(path)) == 100


def test_the_same_seed_gives_the_same_patients(profile) -> None:
    first = synthetic.synthetic_patients(profile, 500, seed=3)
    pd.testing.assert_frame_equal(first, synthetic.synthetic_patients(profile, 500, seed=3))
