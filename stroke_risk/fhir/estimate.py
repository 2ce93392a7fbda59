"""Score a mapped FHIR patient: one estimate, or a range when non-clinical fields are unknown.

Why a range: work type and residence have no FHIR element, and an EHR rarely records
them. Guessing one value would hide that the estimate depends on it; scoring every
allowed value shows how much (usually little). The headline value is the one at the
training population's most common category, so it matches ``/predict`` for the same
patient whenever everything is recorded.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from stroke_risk.assessment.results import as_builtins
from stroke_risk.core.schema import Patient, categories
from stroke_risk.core.validation_errors import describe
from stroke_risk.fhir.mapping import MappedPatient

# Where each patient field comes from in FHIR, to name the element in a refusal.
FHIR_ELEMENT = {
    "age": "Patient.birthDate",
    "gender": "Patient.gender",
    "ever_married": "Patient.maritalStatus",
    "hypertension": "Condition.code",
    "heart_disease": "Condition.code",
    "avg_glucose_level": "Observation.valueQuantity (glucose)",
    "bmi": "Observation.valueQuantity (BMI, weight, height)",
    "smoking_status": "Observation.valueCodeableConcept (72166-2)",
    "work_type": "Observation (urn:stroke-risk:field|work_type)",
    "residence_type": "Observation (urn:stroke-risk:field|residence_type)",
}

Outcome = Literal["scored", "not_enough_data", "not_applicable", "refused"]


@dataclass
class Estimate:
    """The answer for one mapped patient, whatever it is."""

    mapped: MappedPatient
    outcome: Outcome
    result: dict[str, Any] | None = None  # the assessment at the most common categories
    assumed: dict[str, str] = field(default_factory=dict)  # unrecorded field -> value used
    low: float | None = None  # lowest and highest probability over unrecorded fields
    high: float | None = None
    reason: str = ""  # why there is no estimate
    fields: list[str] = field(default_factory=list)  # the fields a refusal is about


def _allowed(name: str, age: float | None) -> list[str]:
    values = list(categories(name))
    if name == "work_type" and age is not None and age >= 18:
        values.remove("children")  # the data set's label for a child, impossible for adults
    return values


def most_common(assessor: Any, name: str) -> str:
    counts: dict[str, int] = assessor.profile.category_counts[name]
    return max(counts, key=counts.__getitem__)


def estimate(mapped: MappedPatient, assessor: Any) -> Estimate:
    """Score ``mapped`` with ``assessor`` (a RiskAssessor), or say why it cannot be scored."""
    if mapped.not_applicable:
        return Estimate(mapped, "not_applicable", reason=mapped.not_applicable)
    if mapped.missing:
        return Estimate(
            mapped,
            "not_enough_data",
            reason="not enough data: " + "; ".join(mapped.missing.values()),
            fields=list(mapped.missing),
        )
    age = mapped.values.get("age")
    assumed = {name: most_common(assessor, name) for name in mapped.unrecorded}
    choices = [_allowed(name, age) for name in mapped.unrecorded]
    combinations = [
        dict(zip(mapped.unrecorded, combo, strict=True)) for combo in itertools.product(*choices)
    ]
    try:
        headline = Patient(**mapped.values, **assumed)
        others = [Patient(**mapped.values, **combo) for combo in combinations if combo != assumed]
    except ValidationError as error:
        detail = error.errors(include_input=False)
        names = [str(e["loc"][0]) for e in detail if e.get("loc")]
        if not names:  # a whole-patient rule: find the fields its message names
            text = " ".join(str(e.get("msg", "")) for e in detail)
            names = [name for name in FHIR_ELEMENT if name in text]
        reason = describe(detail)
        if "age" in names and isinstance(age, float) and age < 18:
            reason = "not scored: under 18 (the estimate is for adults)"
        return Estimate(mapped, "refused", reason=reason, fields=names)
    results = assessor.assess([headline, *others])
    probabilities = [r.probability for r in results]
    return Estimate(
        mapped,
        "scored",
        result=as_builtins(results[0]),
        assumed=assumed,
        low=min(probabilities),
        high=max(probabilities),
    )
