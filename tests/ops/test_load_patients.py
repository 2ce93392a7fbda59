"""The load test's requests: valid patients from the data or the schema, and promised refusals."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    Patient,
    PatientBatch,
    categories,
)
from stroke_risk.loadtest.patients import PatientSampler, synthetic_patient


@pytest.fixture(scope="module")
def sampler(data_path: Path) -> PatientSampler:
    return PatientSampler.from_csv(data_path, seed=3)


def test_patients_come_from_the_data_set(sampler: PatientSampler, stroke_data) -> None:
    """Its adults: the service refuses anyone under 18, so the load sends none."""
    assert sampler.source == "data set"
    assert len(sampler.patients) == (stroke_data["age"] >= 18).sum()


def test_drawn_patients_are_valid_json_patients(sampler: PatientSampler) -> None:
    for _ in range(300):
        patient = sampler.patient()
        assert tuple(patient) == FEATURES
        Patient.model_validate_json(json.dumps(patient))


def test_missing_bmi_travels_as_null(sampler: PatientSampler) -> None:
    assert any(patient["bmi"] is None for patient in sampler.patients)


def test_without_the_data_set_patients_come_from_the_schema(tmp_path: Path) -> None:
    sampler = PatientSampler.from_csv(tmp_path / "absent.csv", seed=5)
    assert sampler.source == "schema"
    drawn = [sampler.patient() for _ in range(500)]
    for patient in drawn:
        Patient.model_validate_json(json.dumps(patient))
    for field in CATEGORICAL_FEATURES:
        assert {patient[field] for patient in drawn} == set(categories(field))


def test_a_seed_makes_draws_repeatable() -> None:
    first, second = PatientSampler(None, seed=11), PatientSampler(None, seed=11)
    assert [first.patient() for _ in range(5)] == [second.patient() for _ in range(5)]


def test_batch_sizes_vary_between_5_and_200_mostly_small() -> None:
    import random

    sampler = PatientSampler([synthetic_patient(random.Random(1))], seed=2)
    sizes = [sampler.batch_size() for _ in range(2000)]
    assert min(sizes) == 5 and max(sizes) == 200
    assert sum(size <= 50 for size in sizes) > sum(size > 50 for size in sizes)
    PatientBatch.model_validate({"patients": sampler.batch(max(sizes))})


def test_invalid_requests_break_the_schema_they_claim_to(sampler: PatientSampler) -> None:
    for bad in sampler.invalid_requests():
        if bad.expected_status != 400:
            continue
        model = PatientBatch if bad.path == "/predict_batch" else Patient
        with pytest.raises(ValidationError):
            model.model_validate_json(bad.body)


def test_invalid_requests_cover_each_refusal(sampler: PatientSampler) -> None:
    statuses = Counter(bad.expected_status for bad in sampler.invalid_requests("secret"))
    assert set(statuses) == {400, 401, 415}
    assert 401 not in {bad.expected_status for bad in sampler.invalid_requests(None)}
    (wrong_key,) = [bad for bad in sampler.invalid_requests("secret") if bad.expected_status == 401]
    assert wrong_key.headers["Authorization"] != "Bearer secret"
