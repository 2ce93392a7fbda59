"""Unit conversions checked against known values (lab tables, the definition of the pound)."""

from __future__ import annotations

import pytest

from stroke_risk.core.schema import GLUCOSE_LIMITS, Patient
from stroke_risk.core.units import (
    bmi_from,
    glucose_from_mg_dl,
    glucose_limits,
    glucose_text,
    glucose_to_mg_dl,
    height_to_cm,
    restate_glucose,
    weight_to_kg,
)


@pytest.mark.parametrize(
    ("mmol_l", "mg_dl"),
    [(5.6, 100.9), (7.0, 126.1), (11.1, 200.0), (1.0, 18.016)],  # fasting/diabetes thresholds
)
def test_mmol_per_litre_converts_to_the_data_sets_mg_per_dl(mmol_l, mg_dl):
    assert glucose_to_mg_dl(mmol_l, "mmol/L") == pytest.approx(mg_dl, abs=0.05)
    assert glucose_from_mg_dl(glucose_to_mg_dl(mmol_l, "mmol/L"), "mmol/L") == pytest.approx(mmol_l)


def test_mg_per_dl_is_passed_through_unchanged():
    assert glucose_to_mg_dl(228.7, "mg/dL") == 228.7
    assert glucose_text(228.7, "mg/dL") == "228.7 mg/dL"


def test_glucose_limits_in_mmol_stay_inside_the_schemas_limits():
    low, high = glucose_limits("mmol/L")
    assert (low, high) == (3.1, 33.3)
    assert GLUCOSE_LIMITS[0] <= glucose_to_mg_dl(low, "mmol/L")
    assert glucose_to_mg_dl(high, "mmol/L") <= GLUCOSE_LIMITS[1]
    assert glucose_limits("mg/dL") == GLUCOSE_LIMITS


def test_the_services_sentences_are_restated_in_mmol():
    text = "a 50-year-old woman, average glucose 91.9 mg/dL; bring average glucose to 99 mg/dL"
    assert restate_glucose(text, "mmol/L") == (
        "a 50-year-old woman, average glucose 5.1 mmol/L; bring average glucose to 5.5 mmol/L"
    )
    assert restate_glucose(text, "mg/dL") == text


def test_imperial_height_and_weight_convert_exactly():
    assert height_to_cm(5, 9) == pytest.approx(175.26)
    assert height_to_cm(6, 0) == pytest.approx(182.88)
    assert weight_to_kg(154) == pytest.approx(69.853, abs=0.001)
    assert weight_to_kg(1) == 0.45359237


@pytest.mark.parametrize(
    ("height_cm", "weight_kg", "bmi"),
    [(175, 70, 22.9), (160, 80, 31.2), (180, 100, 30.9), (150, 45, 20.0)],
)
def test_bmi_is_weight_over_height_squared_to_one_decimal(height_cm, weight_kg, bmi):
    assert bmi_from(height_cm, weight_kg) == bmi


def test_a_computed_bmi_is_one_the_schema_accepts():
    fields = {**Patient.model_json_schema()["example"], "bmi": bmi_from(175, 70)}
    assert Patient.model_validate(fields).bmi == 22.9


def test_a_zero_height_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="height and weight must both be positive"):
        bmi_from(0, 70)
