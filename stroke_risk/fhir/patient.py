"""The Patient -> age, sex and marital status; and whose record each resource is.

A chart must never show another patient's estimate: a resource whose subject is not the
Patient is not read (it is listed instead), and a CDS hook's prefetch Patient must be the
hook's ``context.patientId``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stroke_risk.fhir.codes import code_lists, first_code
from stroke_risk.fhir.provenance import MappedPatient, Source, as_date, plain, reference_of

GENDERS = {"female": "Female", "male": "Male", "other": "Other"}


def age_in_years(birth: dt.date, today: dt.date) -> float:
    """Completed years; for children under two, years to two decimals (the data's form)."""
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if years >= 2:
        return float(years)
    return round((today - birth).days / 365.25, 2)


def map_patient(patient: Any, mapped: MappedPatient, today: dt.date) -> None:
    where = reference_of(patient)
    if patient.modifierExtension:
        mapped.not_applicable = (
            "the Patient has a modifier extension this service does not understand, "
            "which may change what the record means"
        )
    if patient.deceasedBoolean or patient.deceasedDateTime:
        when = as_date(patient.deceasedDateTime)
        mapped.not_applicable = (
            f"the patient is recorded as deceased{f' on {when}' if when else ''}"
        )
    birth = as_date(patient.birthDate)
    if birth is None:
        mapped.missing["age"] = "age (Patient.birthDate)"
    else:
        mapped.set(
            Source("age", age_in_years(birth, today), where, "Patient.birthDate", str(birth))
        )
    gender = GENDERS.get(patient.gender or "")
    if gender is None:
        mapped.missing["gender"] = "sex (Patient.gender)"
    else:
        mapped.set(Source("gender", gender, where, "Patient.gender"))
    marital = code_lists()["marital_status"]
    code = first_code(
        patient.maritalStatus,
        "marital",
        set(marital["ever_married_yes"] + marital["ever_married_no"]),
    )
    if code is not None:
        value = "Yes" if code in marital["ever_married_yes"] else "No"
        mapped.set(Source("ever_married", value, where, f"Patient.maritalStatus {code}"))


def is_the_patient(resources: list[Any], patient_id: str) -> bool:
    """Whether every Patient among ``resources`` is the one with ``patient_id`` (a CDS
    hook's ``context.patientId``): a chart must never show another patient's estimate."""
    return all(r.id == patient_id for r in resources if r.get_resource_type() == "Patient")


def names_the_patient(subject: str | None, patient_id: str | None, aliases: set[str]) -> bool:
    """Whether a ``subject.reference`` points at the Patient: ``Patient/<id>``, relative
    or absolute, with or without ``/_history/<version>``; ``urn:uuid:<id>`` (Synthea's
    records name a Patient so in searchsets too); or one of the Patient entry's
    ``fullUrl``s in a Bundle."""
    if not subject:
        return False
    if subject in aliases:
        return True
    path = subject.split("/_history/", 1)[0]
    return patient_id is not None and (
        path in (f"Patient/{patient_id}", f"urn:uuid:{patient_id}")
        or path.endswith(f"/Patient/{patient_id}")
    )


def about_the_patient(
    resources: list[Any], patient: Any, aliases: set[str], mapped: MappedPatient
) -> list[Any]:
    """The resources whose subject is the Patient; a note for each that is not (they are
    never read: another patient's glucose must not enter this patient's estimate)."""
    kept = []
    for resource in resources:
        subject = resource.subject.reference if resource.subject is not None else None
        if names_the_patient(subject, patient.id, aliases):
            kept.append(resource)
        elif subject is None:
            mapped.notes.append(f"{reference_of(resource)} ignored: it names no subject")
        else:
            mapped.notes.append(
                f"{reference_of(resource)} ignored: its subject is another patient "
                f"({plain(subject[:80])})"
            )
    return kept


def patient_aliases(bundle: Any) -> frozenset[str]:
    """The ``fullUrl``s of a Bundle's Patient entries: references may name it by them."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    return frozenset(
        entry["fullUrl"]
        for entry in entries or []
        if isinstance(entry, dict)
        and isinstance(entry.get("fullUrl"), str)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == "Patient"
    )
