"""Unit conversions between what a practice records and the data set's units.

The API, the model and the schema speak the data set's units (glucose in mg/dL, BMI in
kg/m²); GPs in the UK, Europe, Canada and Australia record glucose in mmol/L, and most
practices measure height and weight rather than BMI. Every conversion lives here, once,
so the app, the PDF and the tests agree by construction.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from stroke_risk.core.schema import GLUCOSE_LIMITS

GlucoseUnit = Literal["mg/dL", "mmol/L"]
BodyUnits = Literal["metric", "imperial"]
GLUCOSE_UNITS: tuple[GlucoseUnit, ...] = ("mg/dL", "mmol/L")
BODY_UNITS: tuple[BodyUnits, ...] = ("metric", "imperial")

# Glucose, C6H12O6: 180.16 g/mol, so 1 mmol/L = 18.016 mg/dL (the factor labs use).
MG_DL_PER_MMOL_L = 18.016
CM_PER_INCH = 2.54
INCHES_PER_FOOT = 12
KG_PER_POUND = 0.45359237  # exact, by the international yard and pound agreement (1959)

# How finely each glucose unit is typed: whole mg/dL, tenths of mmol/L (as labs report).
GLUCOSE_STEPS: dict[GlucoseUnit, float] = {"mg/dL": 1.0, "mmol/L": 0.1}

# Plausible adult body measurements; outside them a typo is far likelier than a patient.
HEIGHT_LIMITS_CM = (100.0, 250.0)
WEIGHT_LIMITS_KG = (20.0, 300.0)


def glucose_to_mg_dl(value: float, glucose_unit: GlucoseUnit) -> float:
    """A glucose reading in the data set's mg/dL; 5.6 mmol/L -> 100.9 mg/dL."""
    return value * MG_DL_PER_MMOL_L if glucose_unit == "mmol/L" else value


def glucose_from_mg_dl(value: float, glucose_unit: GlucoseUnit) -> float:
    """A glucose reading from mg/dL into the chosen unit; 99 mg/dL -> 5.5 mmol/L."""
    return value / MG_DL_PER_MMOL_L if glucose_unit == "mmol/L" else value


def glucose_limits(glucose_unit: GlucoseUnit) -> tuple[float, float]:
    """The schema's accepted glucose range in the chosen unit, rounded to its step
    inwards, so a value the form accepts is never refused by the schema."""
    low, high = (glucose_from_mg_dl(limit, glucose_unit) for limit in GLUCOSE_LIMITS)
    if glucose_unit == "mmol/L":
        return math.ceil(low * 10) / 10, math.floor(high * 10) / 10
    return low, high


def glucose_unit_problem(value: float, glucose_unit: GlucoseUnit) -> str | None:
    """Why a glucose reading does not fit the unit it is said to be in, naming both units,
    or None when it fits. A value outside the unit's accepted range but inside the other
    unit's is far likelier a reading in the other unit than a real patient (5.6 read as
    mg/dL, 150 read as mmol/L), so it is refused rather than converted."""
    low, high = glucose_limits(glucose_unit)
    if low <= value <= high:
        return None
    other: GlucoseUnit = "mmol/L" if glucose_unit == "mg/dL" else "mg/dL"
    other_low, other_high = glucose_limits(other)
    accepted = f"accepted in {glucose_unit}: {low:g} to {high:g}"
    if other_low <= value <= other_high:
        return (
            f"{value:g} fits {other}, not {glucose_unit} (the file's unit; {accepted}): "
            f"choose {other} for this file, or give a glucose_unit column"
        )
    return f"{value:g} is outside the accepted range in {glucose_unit} ({accepted})"


def glucose_text(value_mg_dl: float, glucose_unit: GlucoseUnit) -> str:
    """'228.7 mg/dL' or '12.7 mmol/L', as the chosen unit is written."""
    value = glucose_from_mg_dl(value_mg_dl, glucose_unit)
    return f"{value:.1f} {glucose_unit}" if glucose_unit == "mmol/L" else f"{value:g} mg/dL"


def height_to_cm(feet: float, inches: float) -> float:
    """5 ft 9 in -> 175.26 cm."""
    return (feet * INCHES_PER_FOOT + inches) * CM_PER_INCH


def weight_to_kg(pounds: float) -> float:
    """154 lb -> 69.85 kg."""
    return pounds * KG_PER_POUND


def bmi_from(height_cm: float, weight_kg: float) -> float:
    """Body-mass index, kg/m², rounded to one decimal as recorded; 175 cm, 70 kg -> 22.9."""
    if height_cm <= 0 or weight_kg <= 0:
        raise ValueError("height and weight must both be positive to compute a BMI")
    metres = height_cm / 100
    return round(weight_kg / (metres * metres), 1)


_MG_DL_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?) ?mg/dL")


def restate_glucose(text: str, glucose_unit: GlucoseUnit) -> str:
    """A sentence from the service with every 'N mg/dL' in the chosen unit, e.g.
    'bring average glucose to 99 mg/dL' -> 'bring average glucose to 5.5 mmol/L'."""
    if glucose_unit == "mg/dL":
        return text
    return _MG_DL_IN_TEXT.sub(lambda m: glucose_text(float(m.group(1)), glucose_unit), text)
