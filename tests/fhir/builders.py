"""Small FHIR R4 resources and bundles for the tests, and a data-set row as a bundle."""

from __future__ import annotations

import datetime as dt
import json
from itertools import count
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
FIELD_SYSTEM = "urn:stroke-risk:field"
_ids = count(1)


def example(name: str) -> dict[str, Any]:
    """A published example resource from tests/fhir/data (see its README)."""
    return json.loads((DATA / name).read_text())


def patient(
    birth: str | None = "1960-05-01", gender: str | None = "female", marital: str | None = "M"
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": f"p{next(_ids)}"}
    if birth is not None:
        resource["birthDate"] = birth
    if gender is not None:
        resource["gender"] = gender
    if marital is not None:
        resource["maritalStatus"] = {"coding": [{"system": MARITAL, "code": marital}]}
    return resource


def observation(
    code: str, value: float, unit: str, date: str, system: str = LOINC, **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }


def coded_observation(code: str, answer: str, date: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": date,
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": answer}]},
    }


def field_observation(name: str, value: str, date: str = "2026-01-01") -> dict[str, Any]:
    """work_type / residence_type in this service's own code system."""
    return {
        "resourceType": "Observation",
        "id": f"o{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": FIELD_SYSTEM, "code": name}]},
        "effectiveDateTime": date,
        "valueString": value,
    }


def condition(
    code: str, system: str = SNOMED, verification: str = "confirmed", onset: str = "2015-01-01"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"c{next(_ids)}",
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
        "code": {"coding": [{"system": system, "code": code}]},
        "onsetDateTime": onset,
    }


def about(person: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` (e.g. a published example) recorded for ``person``."""
    return {**resource, "subject": {"reference": f"Patient/{person['id']}"}}


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    """A Bundle of ``resources``; those without a subject get the bundle's Patient as
    theirs (as an EHR's always have), so a test says only what it is about."""
    patients = [r for r in resources if r["resourceType"] == "Patient" and "id" in r]
    subject = {"reference": f"Patient/{patients[0]['id']}"} if len(patients) == 1 else None
    entries = [
        {"resource": {**r, "subject": subject}}
        if subject and r["resourceType"] != "Patient" and "subject" not in r
        else {"resource": r}
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


SMOKING_CODES = {
    "never smoked": "266919005",
    "formerly smoked": "8517006",
    "smokes": "77176002",
}


def row_bundle(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """A data-set row as the bundle an EHR would send, every field recorded."""
    age = float(row["age"])
    # Forty days past a birthday, so that completed years (or, under two, years to two
    # decimals) map back to exactly the row's age. ``today`` must not be 29 February.
    if age < 2:
        birth = today - dt.timedelta(days=round(age * 365.25))
    else:
        birth = today.replace(year=today.year - int(age)) - dt.timedelta(days=40)
    date = (today - dt.timedelta(days=30)).isoformat()
    gender = {"Female": "female", "Male": "male", "Other": "other"}[row["gender"]]
    resources = [patient(birth.isoformat(), gender, "M" if row["ever_married"] == "Yes" else "S")]
    resources.append(observation("2345-7", float(row["avg_glucose_level"]), "mg/dL", date))
    if row.get("bmi") is not None and row["bmi"] == row["bmi"]:
        resources.append(observation("39156-5", float(row["bmi"]), "kg/m2", date))
    if row["smoking_status"] in SMOKING_CODES:
        resources.append(coded_observation("72166-2", SMOKING_CODES[row["smoking_status"]], date))
    if int(row["hypertension"]):
        resources.append(condition("I10", ICD10CM))
    if int(row["heart_disease"]):
        resources.append(condition("53741008"))
    resources.append(field_observation("work_type", row["work_type"]))
    resources.append(field_observation("residence_type", row["residence_type"]))
    return bundle(*resources)


# What an EHR adds to a lab Observation beside code, status, effective[x] and value[x]
# (US Core's lab profile); a rule reads `issued` only when there is no effective[x].
US_CORE_LAB_EXTRAS = {
    "meta": {"versionId": "3", "lastUpdated": "2026-09-01T10:00:00Z"},
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                    "display": "Laboratory",
                }
            ],
            "text": "Laboratory",
        }
    ],
    "subject": {"reference": "Patient/p1", "display": "Example Patient"},
    "encounter": {"reference": "Encounter/e1"},
    "issued": "2026-09-01T10:00:00.000Z",
    "performer": [{"reference": "Practitioner/pr1", "display": "Dr Example"}],
    "interpretation": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "N",
                    "display": "Normal",
                }
            ]
        }
    ],
    "referenceRange": [
        {
            "low": {"value": 70, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
            "high": {"value": 99, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
        }
    ],
}
