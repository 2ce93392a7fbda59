"""A batch already in the schema's own form is checked in one msgspec call: it gives the
patients pydantic gives, and it never accepts what the schema refuses."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from stroke_risk.core.canonical_patients import decode_canonical_batch
from stroke_risk.core.schema import FEATURES, Patient, PatientBatch
from stroke_risk.serving import large_body_parsing
from stroke_risk.serving.large_body_parsing import validate_in_pieces
from tests.conftest import EXAMPLE_PATIENT

# Values a system might send for each field: within and on the limits, just beyond them,
# other spellings and types. JSON ``true`` stands beside 1, "60" beside 60.
EDGE_VALUES: dict[str, list[Any]] = {
    "gender": ["Female", "Male", "Other", "female", "MALE", " Male", "", "F", None, 1],
    "age": [18, 18.0, 17.99, 0, 67, 120, 120.01, -1, True, "60", None, 1e300],
    "hypertension": [0, 1, 2, -1, True, False, 1.0, "1", None],
    "heart_disease": [0, 1, 2, True, False, 0.0, "0", None],
    "ever_married": ["Yes", "No", "yes", "NO", "Y", None],
    "work_type": [
        "Private",
        "Self-employed",
        "Govt_job",
        "children",
        "Never_worked",
        "self employed",
        "govt job",
        "private ",
        "Retired",
        None,
    ],  # fmt: skip
    "residence_type": ["Urban", "Rural", "urban", "City", None],
    "avg_glucose_level": [55, 55.0, 54.99, 25, 5.5, 99.5, 272, 600, 600.01, True, "99", None],
    "bmi": [None, 10, 9.99, 28.1, 100, 100.01, 0, True, "30"],
    "smoking_status": [
        "never smoked",
        "formerly smoked",
        "smokes",
        "Unknown",
        "Never smoked",
        "never_smoked",
        "unknown",
        "former",
        None,
    ],  # fmt: skip
}


def body(*patients: dict[str, Any]) -> bytes:
    return json.dumps({"patients": list(patients)}).encode()


def pydantic_patients(data: bytes) -> list[dict[str, Any]] | None:
    try:
        return [p.__dict__ for p in PatientBatch.model_validate_json(data).patients]
    except ValidationError:
        return None


def test_the_data_sets_adults_decode_to_the_patients_pydantic_gives(stroke_data: pd.DataFrame):
    adults = stroke_data[stroke_data["age"] >= 18][list(FEATURES)].astype(object)
    rows = adults.where(adults.notna(), None).to_dict(orient="records")
    data = body(*rows)
    canonical = decode_canonical_batch(data)
    assert canonical is not None, "the data's own spelling must take the quick path"
    expected = pydantic_patients(data)
    assert [p.__dict__ for p in canonical] == expected
    # ...in the schema's field order, as pydantic keeps them (and types: 67 -> 67.0)
    assert all(list(p.__dict__) == list(FEATURES) for p in canonical)
    assert all(isinstance(p, Patient) for p in canonical)


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in EDGE_VALUES.items() for value in values],
)
def test_every_edge_value_is_refused_or_read_as_pydantic_reads_it(field: str, value: Any):
    """The quick path may decline (pydantic then decides), but whatever it accepts,
    pydantic accepts with the same value and type."""
    data = body({**EXAMPLE_PATIENT, field: value})
    canonical = decode_canonical_batch(data)
    expected = pydantic_patients(data)
    if canonical is None:
        return
    assert expected is not None, f"{field}={value!r}: accepted here, refused by the schema"
    got = canonical[0].__dict__
    assert got == expected[0]
    assert type(got[field]) is type(expected[0][field])


def test_values_only_pydantic_converts_take_pydantics_path():
    for field, value in [
        ("gender", "male"),
        ("hypertension", True),
        ("work_type", "self employed"),
        ("smoking_status", "never_smoked"),
    ]:
        data = body({**EXAMPLE_PATIENT, field: value})
        assert decode_canonical_batch(data) is None, (field, value)
        assert pydantic_patients(data) is not None, (field, value)


def test_a_missing_or_unknown_field_or_another_shape_is_left_to_pydantic():
    missing = {k: v for k, v in EXAMPLE_PATIENT.items() if k != "bmi"}
    assert decode_canonical_batch(body(missing)) is None
    assert decode_canonical_batch(body({**EXAMPLE_PATIENT, "colour": "blue"})) is None
    extra = json.dumps({"patients": [EXAMPLE_PATIENT], "extra": 1}).encode()
    assert decode_canonical_batch(extra) is None
    assert decode_canonical_batch(json.dumps([EXAMPLE_PATIENT]).encode()) is None
    assert decode_canonical_batch(b"not json") is None


def test_the_service_takes_the_quick_path_for_a_canonical_batch(monkeypatch):
    """validate_in_pieces answers a canonical batch without pydantic's per-patient
    validation, and falls back to it for another spelling."""
    calls = []
    original = large_body_parsing._patients.validate_python

    class Spy:
        def validate_python(self, patients):
            calls.append(len(patients))
            return original(patients)

    monkeypatch.setattr(large_body_parsing, "_patients", Spy())
    canonical = body(*[{**EXAMPLE_PATIENT, "age": 18 + i % 80} for i in range(600)])
    assert len(validate_in_pieces(PatientBatch, canonical).patients) == 600
    assert calls == []
    respelled = body(*[{**EXAMPLE_PATIENT, "gender": "female"}] * 600)
    batch = validate_in_pieces(PatientBatch, respelled)
    assert calls == [500, 100]
    assert {p.gender for p in batch.patients} == {"Female"}


def test_a_canonical_batch_over_the_size_limit_is_still_refused():
    from stroke_risk.core.config import get_settings

    too_many = body(*[EXAMPLE_PATIENT] * (get_settings().max_batch_size + 1))
    with pytest.raises(ValidationError) as refused:
        validate_in_pieces(PatientBatch, too_many)
    assert refused.value.errors()[0]["type"] == "too_long"
