"""FHIR R4 resources -> the fields of our :class:`~stroke_risk.core.schema.Patient`.

The one documented place where EHR data becomes model input (README, "Connecting an EHR",
has the table). Resources are parsed and validated with ``fhir.resources`` (R4B models,
which read R4 Patient, Observation and Condition unchanged); the code lists and units
are data in ``code_lists.json``. Every mapped value records where it came from.

Rules that are decisions, not lookups:
- No Condition on a list means "no such diagnosis" (0), as a GP record is read.
- Clinical fields (age, sex, glucose) are never defaulted: when missing the answer is
  "not enough data". Glucose is not ranged over plausible values because it is one of the
  model's strongest inputs, so such a range would be too wide to help; measuring it is.
- Non-clinical fields with no FHIR element (work type, residence) and an unrecorded
  marital status are not guessed either: the caller scores every allowed value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from statistics import fmean
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from stroke_risk.fhir import validator_speedups
from stroke_risk.fhir.codes import code_lists, codings, first_code, on_condition_list, system

# Every model class is built after this (fhir.resources builds them on first use, and the
# EHR modules reach them through get_fhir_model_class, imported from here).
validator_speedups.install()

NON_CLINICAL_FIELDS = ("ever_married", "work_type", "residence_type")
# Deepest JSON nesting read (objects and arrays): the deepest element of an R4 Patient,
# Observation or Condition is about 8 levels down; extensions nested 130 deep made
# fhir.resources recurse until Python's limit (a RecursionError, a 500 and a 278 KB log).
MAX_DEPTH = 32
# Characters CommonMark reads as markup: escaped in every text taken from FHIR (a unit, a
# code, a string value) before it reaches a card's markdown, where "[Click](https://...)"
# would become a link.
MARKDOWN_CHARACTERS = frozenset("\\`*_[]()<>!|~#{}")
# A date a day ahead is still "today" somewhere: the record may be kept in another zone.
FUTURE_TOLERANCE = dt.timedelta(days=1)
USED_RESOURCE_TYPES = ("Patient", "Observation", "Condition")
GENDERS = {"female": "Female", "male": "Male", "other": "Other"}


class FhirInputError(ValueError):
    """A bundle or resource that cannot be read; names the resource and the element."""

    def __init__(self, message: str, location: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.status = status


@dataclass(frozen=True)
class Source:
    """Where one mapped value came from, e.g. BMI 31.2 from Observation/abc, 2026-03-02."""

    field: str
    value: Any
    resource: str | None
    code: str | None = None
    date: str | None = None
    note: str = ""

    def describe(self, label: str) -> str:
        if self.value is None:
            return f"{label} not recorded ({self.note})" if self.note else f"{label} not recorded"
        where = self.resource or "no record"
        when = f", {self.date}" if self.date else ""
        note = f" ({self.note})" if self.note else ""
        return f"{label} {plain(self.value)} from {where}{when}{note}"


@dataclass
class MappedPatient:
    """What the mapping found: values, their sources, and what stops or limits scoring."""

    patient_reference: str | None  # None for a Patient without an id: nothing to point at
    values: dict[str, Any] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # clinical field -> what is missing
    unrecorded: list[str] = field(default_factory=list)  # non-clinical: scored as a range
    notes: list[str] = field(default_factory=list)  # old data, refused units, etc.
    not_applicable: str | None = None  # stroke recorded, deceased

    def set(self, source: Source) -> None:
        self.values[source.field] = source.value
        self.sources.append(source)

    @property
    def basis(self) -> list[str]:
        """The references of every resource a value was taken from, each once (a resource
        without an id cannot be referred to, so it is not listed)."""
        return list(
            dict.fromkeys(s.resource for s in self.sources if s.resource and "/" in s.resource)
        )


def plain(text: Any) -> str:
    """``text`` with every markdown character escaped, so it reads as written."""
    return "".join(f"\\{c}" if c in MARKDOWN_CHARACTERS else c for c in str(text))


# --- parsing --------------------------------------------------------------------------


def deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``limit`` levels deep.
    Iterative, so it cannot itself run out of stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _location(resource_type: str, index: int | None, loc: tuple[Any, ...]) -> str:
    where = f"Bundle.entry[{index}].resource" if index is not None else resource_type
    path = ".".join(str(part) for part in loc)
    return f"{where} ({resource_type}){'.' + path if path else ''}"


@lru_cache
def _observation_codes() -> frozenset[str]:
    """Every Observation code some rule reads (LOINC codes and our own field codes)."""
    lists = code_lists()
    bmi = lists["bmi"]
    return frozenset(
        [*lists["glucose"]["loinc"], *bmi["loinc"], *bmi["weight_loinc"], *bmi["height_loinc"]]
        + [*lists["smoking"]["loinc"], *lists["non_clinical"]["codes"]]
    )


@lru_cache
def _condition_codes() -> tuple[frozenset[str], tuple[str, ...]]:
    """SNOMED codes and ICD-10 prefixes of every condition list."""
    lists = code_lists()
    names = ("hypertension", "heart_disease", "stroke")
    snomed = frozenset(code for name in names for code in lists[name]["snomed"])
    return snomed, tuple(prefix for name in names for prefix in lists[name]["icd10_prefixes"])


def _read_by_some_rule(kind: str, coding: dict[str, Any]) -> bool:
    code = str(coding.get("code") or "")
    if kind == "Observation":
        return code in _observation_codes()
    snomed, icd10_prefixes = _condition_codes()
    return code in snomed or code.upper().startswith(icd10_prefixes)


def _never_read(raw: dict[str, Any]) -> bool:
    """An Observation or Condition whose codes no rule reads (heart rate, asthma...).

    Skipped before validation: validating resources that are never read would cost most of
    a chart's time (about 0.07 ms each) and would refuse a whole chart over an unrelated
    entry. Only the codes are looked at; every value used comes from a validated model.
    Anything unexpected in the shape is left to the validator.
    """
    kind = raw.get("resourceType")
    if kind not in ("Observation", "Condition"):
        return False
    try:
        return not any(_read_by_some_rule(kind, coding) for coding in raw["code"]["coding"])
    except (KeyError, TypeError, AttributeError):
        return False


# The Observation elements a mapping rule reads (mapping.py, observation_date), and the
# ones that change what an Observation means (modifierExtension), each with its "_"
# sibling (a primitive's id and extensions); every value[x] and effective[x] is kept so
# that two of them still make the Observation invalid.
_OBSERVATION_ELEMENTS = frozenset(
    ("resourceType", "id", "status", "code", "issued", "modifierExtension", "subject")
    + ("dataAbsentReason",)
)
_OBSERVATION_CHOICES = ("value", "effective")


def _read_elements(raw: dict[str, Any]) -> dict[str, Any]:
    """An Observation with only the elements a rule reads.

    An EHR's Observation also carries category, subject, encounter, performer,
    interpretation, reference ranges, notes and more (US Core's lab profile): validating
    all of them took 2.7 times as long per Observation (22 ms for 200 instead of 8), most
    of a CDS Hooks call, and a malformed one would refuse a whole chart over something the
    estimate never uses. What is read is still validated by fhir.resources.
    """
    return {
        key: value
        for key, value in raw.items()
        if (element := key.removeprefix("_")) in _OBSERVATION_ELEMENTS
        or element.startswith(_OBSERVATION_CHOICES)
    }


def parse_resource(raw: Any, index: int | None = None) -> Any:
    """A validated R4 resource of a type we read; None for types and codes we do not use.
    Of an Observation, only the elements a rule reads are validated (and kept)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        raise FhirInputError("each entry needs a resource with a resourceType", f"entry[{index}]")
    resource_type = raw["resourceType"]
    if resource_type not in USED_RESOURCE_TYPES or _never_read(raw):
        return None
    if resource_type == "Observation":
        raw = _read_elements(raw)
    if deeper_than(raw, MAX_DEPTH):
        where = f"Bundle.entry[{index}].resource" if index is not None else resource_type
        raise FhirInputError(
            f"invalid {resource_type}: nested more than {MAX_DEPTH} levels deep",
            f"{where} ({resource_type})",
        )
    try:
        return get_fhir_model_class(resource_type).model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        location = _location(resource_type, index, tuple(first["loc"]))
        raise FhirInputError(f"invalid {resource_type}: {first['msg']}", location) from None


def resources_of_bundle(bundle: Any) -> list[Any]:
    """The Patient, Observation and Condition resources of a collection or searchset."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirInputError("the body must be a FHIR Bundle (resourceType 'Bundle')", "Bundle")
    kind = bundle.get("type")
    if kind not in ("collection", "searchset", "batch", "transaction", "document"):
        raise FhirInputError(
            f"Bundle.type '{kind}' is not accepted: send a 'collection' or 'searchset'",
            "Bundle.type",
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirInputError("Bundle.entry must be a list", "Bundle.entry")
    parsed = []
    for index, entry in enumerate(entries):
        raw = entry.get("resource") if isinstance(entry, dict) else None
        resource = parse_resource(raw, index)
        if resource is not None:
            parsed.append(resource)
    return parsed


# --- dates ----------------------------------------------------------------------------


def as_date(value: Any) -> dt.date | None:
    """A FHIR date/dateTime/instant as a date; partial dates ('1974', '1974-12') mid-period."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    parts = str(value).split("-")
    try:
        if len(parts) == 1:
            return dt.date(int(parts[0]), 7, 1)
        if len(parts) == 2:
            return dt.date(int(parts[0]), int(parts[1]), 15)
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def observation_date(observation: Any) -> dt.date | None:
    """When an Observation applies: effective[x] (end of a period), else issued."""
    period = observation.effectivePeriod
    return (
        as_date(observation.effectiveDateTime)
        or as_date(observation.effectiveInstant)
        or (as_date(period.end) or as_date(period.start) if period else None)
        or as_date(observation.issued)
    )


def condition_date(condition: Any) -> dt.date | None:
    period = condition.onsetPeriod
    return (
        as_date(condition.onsetDateTime)
        or (as_date(period.start) if period else None)
        or as_date(condition.recordedDate)
    )


def age_in_years(birth: dt.date, today: dt.date) -> float:
    """Completed years; for children under two, years to two decimals (the data's form)."""
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if years >= 2:
        return float(years)
    return round((today - birth).days / 365.25, 2)


# --- the mapping ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Measure:
    resource: str
    code: str
    date: dt.date | None
    value: float


def _reference(resource: Any) -> str:
    return (
        f"{resource.get_resource_type()}/{resource.id}"
        if resource.id
        else resource.get_resource_type()
    )


def _loinc(observation: Any, codes: set[str]) -> str | None:
    return first_code(observation.code, "loinc", codes)


def _quantity(
    observation: Any, units: dict[str, float], what: str, notes: list[str]
) -> float | None:
    """The value in the target unit, by UCUM code; an unknown unit is refused, not guessed."""
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        return None
    if quantity.comparator is not None:  # ">600" is not 600: the true value is unknown
        notes.append(
            f"{what} from {_reference(observation)} ignored: its value is "
            f"'{plain(quantity.comparator)}{quantity.value}', not a measured value"
        )
        return None
    unit = quantity.code if quantity.code else quantity.unit
    if quantity.code and quantity.system not in (None, *system("ucum")):
        unit = None
    if unit not in units:
        given = quantity.code or quantity.unit
        notes.append(
            f"{what} from {_reference(observation)} ignored: unit '{plain(given)}'"
            f" is not one of {', '.join(units)} (UCUM)"
        )
        return None
    return float(Decimal(quantity.value) * Decimal(str(units[unit])))


def _usable(observation: Any) -> bool:
    return observation.status not in code_lists()["observation_ignored_status"]


def unusable_because(observation: Any, today: dt.date) -> str | None:
    """Why an Observation's value must not be read, by FHIR's own rules; None if it may.

    - a ``modifierExtension`` changes the meaning of the resource, and this service knows
      none, so it cannot know what the value means;
    - ``dataAbsentReason`` says the value is missing (or not to be trusted) even when one
      is present;
    - a date after today is an error in the record, not a recent measurement.
    """
    if observation.modifierExtension:
        return "it has a modifier extension this service does not understand"
    if observation.dataAbsentReason is not None:
        return "it records a dataAbsentReason"
    when = observation_date(observation)
    if when is not None and when > today + FUTURE_TOLERANCE:
        return f"it is dated {when}, in the future"
    return None


def _checked(observations: list[Any], what: str, today: dt.date, notes: list[str]) -> list[Any]:
    """The Observations whose values may be read; a note for each one that may not."""
    kept = []
    for observation in observations:
        reason = unusable_because(observation, today)
        if reason is None:
            kept.append(observation)
        else:
            notes.append(f"{what} from {_reference(observation)} ignored: {reason}")
    return kept


def _measures(
    observations: list[Any],
    codes: list[str],
    units: dict[str, float],
    what: str,
    notes: list[str],
    today: dt.date,
) -> list[_Measure]:
    found = []
    wanted = set(codes)
    coded = [o for o in observations if _loinc(o, wanted) is not None and _usable(o)]
    for observation in _checked(coded, what, today, notes):
        code = _loinc(observation, wanted)
        value = _quantity(observation, units, what, notes)
        if value is not None:
            found.append(
                _Measure(
                    _reference(observation), f"loinc|{code}", observation_date(observation), value
                )
            )
    return sorted(found, key=lambda m: m.date or dt.date.min)


def map_patient(patient: Any, mapped: MappedPatient, today: dt.date) -> None:
    reference = _reference(patient)
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
            Source("age", age_in_years(birth, today), reference, "Patient.birthDate", str(birth))
        )
    gender = GENDERS.get(patient.gender or "")
    if gender is None:
        mapped.missing["gender"] = "sex (Patient.gender)"
    else:
        mapped.set(Source("gender", gender, reference, "Patient.gender"))
    marital = code_lists()["marital_status"]
    code = first_code(
        patient.maritalStatus,
        "marital",
        set(marital["ever_married_yes"] + marital["ever_married_no"]),
    )
    if code is not None:
        value = "Yes" if code in marital["ever_married_yes"] else "No"
        mapped.set(Source("ever_married", value, reference, f"Patient.maritalStatus {code}"))


def map_conditions(conditions: list[Any], mapped: MappedPatient) -> None:
    ignored = code_lists()["condition_ignored_verification"]
    found: dict[str, tuple[str, Any]] = {}
    for condition in conditions:
        verification = {coding.code for coding in codings(condition.verificationStatus)}
        if verification & set(ignored):
            continue
        if condition.modifierExtension:
            mapped.notes.append(
                f"{_reference(condition)} ignored: it has a modifier extension this service "
                "does not understand"
            )
            continue
        for list_name in ("stroke", "hypertension", "heart_disease"):
            code = on_condition_list(condition.code, list_name)
            if code is not None and list_name not in found:
                found[list_name] = (code, condition)
    if "stroke" in found:
        code, condition = found["stroke"]
        when = condition_date(condition)
        mapped.not_applicable = (
            f"stroke or TIA recorded{f' on {when}' if when else ''} ({_reference(condition)}): "
            "the estimate is for patients without a known stroke; see secondary-prevention guidance"
        )
        mapped.sources.append(
            Source("stroke", 1, _reference(condition), code, str(when) if when else None)
        )
    for name in ("hypertension", "heart_disease"):
        if name in found:
            code, condition = found[name]
            when = condition_date(condition)
            mapped.set(Source(name, 1, _reference(condition), code, str(when) if when else None))
        else:
            mapped.set(Source(name, 0, None, note="no Condition on the code list"))


def map_glucose(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["glucose"]
    measures = _measures(
        observations, rule["loinc"], rule["units_to_mg_per_dl"], "glucose", mapped.notes, today
    )
    if not measures:
        mapped.missing["avg_glucose_level"] = (
            "glucose (no glucose Observation with a usable unit): measure it"
        )
        return
    since = today - dt.timedelta(days=rule["window_days"])
    recent = [m for m in measures if m.date is not None and m.date >= since]
    if recent:
        value = round(fmean(m.value for m in recent), 2)
        note = f"mean of {len(recent)} value{'s' if len(recent) > 1 else ''} in the last 12 months"
        if len(recent) > 1:
            note += ": " + ", ".join(f"{m.value:.1f} ({m.resource}, {m.date})" for m in recent)
        # Each averaged value is in the basis; the reply's line for glucose lists them.
        for m in recent[:-1]:
            mapped.sources.append(
                Source("glucose_value", round(m.value, 2), m.resource, m.code, str(m.date))
            )
        last = recent[-1]
        mapped.set(
            Source("avg_glucose_level", value, last.resource, last.code, str(last.date), note)
        )
    else:
        last = measures[-1]
        note = "latest value, older than 12 months"
        mapped.notes.append(f"glucose is old: {last.date or 'undated'}; consider measuring it")
        mapped.set(
            Source(
                "avg_glucose_level",
                round(last.value, 2),
                last.resource,
                last.code,
                str(last.date),
                note,
            )
        )


def map_bmi(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["bmi"]
    notes = mapped.notes
    bmis = _measures(observations, rule["loinc"], rule["units"], "BMI", notes, today)
    source: Source | None = None
    if bmis:
        last = bmis[-1]
        source = Source("bmi", round(last.value, 1), last.resource, last.code, str(last.date))
    else:
        weights = _measures(
            observations, rule["weight_loinc"], rule["weight_units_to_kg"], "weight", notes, today
        )
        heights = _measures(
            observations, rule["height_loinc"], rule["height_units_to_m"], "height", notes, today
        )
        window = dt.timedelta(days=rule["pair_within_days"])
        for weight in reversed(weights):
            paired = [
                h
                for h in heights
                if h.date and weight.date and abs(h.date - weight.date) <= window and h.value > 0
            ]
            if paired:
                height = min(paired, key=lambda h: abs(h.date - weight.date))
                value = round(weight.value / height.value**2, 1)
                mapped.sources.append(
                    Source(
                        "bmi_height",
                        round(height.value, 3),
                        height.resource,
                        height.code,
                        str(height.date),
                        "height in m",
                    )
                )
                source = Source(
                    "bmi",
                    value,
                    weight.resource,
                    weight.code,
                    str(weight.date),
                    f"weight {weight.value:.1f} kg / (height {height.value:.2f} m from "
                    f"{height.resource}, {height.date}) squared",
                )
                break
    if source is None:
        mapped.set(Source("bmi", None, None, note="no BMI, or weight and height within a year"))
        return
    if source.date and dt.date.fromisoformat(source.date) < today - dt.timedelta(
        days=rule["old_after_days"]
    ):
        notes.append(f"BMI is old: {source.date}")
    mapped.set(source)


def map_smoking(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["smoking"]
    wanted = set(rule["loinc"])
    coded = [o for o in observations if _loinc(o, wanted) and _usable(o)]
    statuses = [
        o for o in _checked(coded, "smoking status", today, mapped.notes) if o.valueCodeableConcept
    ]
    if not statuses:
        mapped.set(Source("smoking_status", "Unknown", None, note="no smoking status recorded"))
        return
    latest = max(statuses, key=lambda o: observation_date(o) or dt.date.min)
    code = first_code(latest.valueCodeableConcept, "snomed", rule["snomed_to_status"])
    when = observation_date(latest)
    if code is None:
        mapped.set(
            Source(
                "smoking_status",
                "Unknown",
                _reference(latest),
                None,
                str(when) if when else None,
                "code not on the list",
            )
        )
        return
    mapped.set(
        Source(
            "smoking_status",
            rule["snomed_to_status"][code],
            _reference(latest),
            f"snomed|{code}",
            str(when) if when else None,
        )
    )


def map_non_clinical(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    """work_type and residence_type (and ever_married) from an Observation in our code system."""
    rule = code_lists()["non_clinical"]
    ours = [
        o
        for o in observations
        if any(c.system == rule["system"] and c.code in rule["codes"] for c in o.code.coding or [])
    ]
    usable = _checked(ours, "a non-clinical field", today, mapped.notes)
    for observation in sorted(usable, key=lambda o: observation_date(o) or dt.date.min):
        for coding in observation.code.coding or []:
            if (
                coding.system == rule["system"]
                and coding.code in rule["codes"]
                and _usable(observation)
            ):
                value = observation.valueString or (
                    observation.valueCodeableConcept.coding[0].code
                    if observation.valueCodeableConcept and observation.valueCodeableConcept.coding
                    else None
                )
                if value is not None:
                    when = observation_date(observation)
                    mapped.set(
                        Source(
                            coding.code,
                            value,
                            _reference(observation),
                            f"{rule['system']}|{coding.code}",
                            str(when) if when else None,
                        )
                    )
    for name in NON_CLINICAL_FIELDS:
        if name not in mapped.values:
            mapped.unrecorded.append(name)


# --- whose record ---------------------------------------------------------------------


def is_the_patient(resources: list[Any], patient_id: str) -> bool:
    """Whether every Patient among ``resources`` is the one with ``patient_id`` (a CDS
    hook's ``context.patientId``): a chart must never show another patient's estimate."""
    return all(r.id == patient_id for r in resources if r.get_resource_type() == "Patient")


def names_the_patient(reference: str | None, patient_id: str | None, aliases: set[str]) -> bool:
    """Whether a ``subject.reference`` points at the Patient: ``Patient/<id>``, relative
    or absolute, with or without ``/_history/<version>``; ``urn:uuid:<id>`` (Synthea's
    records name a Patient so in searchsets too); or one of the Patient entry's
    ``fullUrl``s in a Bundle."""
    if not reference:
        return False
    if reference in aliases:
        return True
    path = reference.split("/_history/", 1)[0]
    return patient_id is not None and (
        path in (f"Patient/{patient_id}", f"urn:uuid:{patient_id}")
        or path.endswith(f"/Patient/{patient_id}")
    )


def _about_the_patient(
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
            mapped.notes.append(f"{_reference(resource)} ignored: it names no subject")
        else:
            mapped.notes.append(
                f"{_reference(resource)} ignored: its subject is another patient "
                f"({plain(subject[:80])})"
            )
    return kept


def map_resources(
    resources: list[Any], today: dt.date, aliases: frozenset[str] = frozenset()
) -> MappedPatient:
    """Map one patient's parsed resources. Raises FhirInputError without exactly one
    Patient. ``aliases``: other references that name the Patient (its entry's fullUrl)."""
    patients = [r for r in resources if r.get_resource_type() == "Patient"]
    if len(patients) != 1:
        raise FhirInputError(
            f"the bundle must hold exactly one Patient, found {len(patients)}", "Bundle.entry", 422
        )
    patient = patients[0]
    mapped = MappedPatient(_reference(patient) if patient.id else None)
    others = [r for r in resources if r.get_resource_type() != "Patient"]
    mine = _about_the_patient(others, patient, set(aliases), mapped)
    observations = [r for r in mine if r.get_resource_type() == "Observation"]
    conditions = [r for r in mine if r.get_resource_type() == "Condition"]
    map_patient(patient, mapped, today)
    map_conditions(conditions, mapped)
    map_glucose(observations, mapped, today)
    map_bmi(observations, mapped, today)
    map_smoking(observations, mapped, today)
    map_non_clinical(observations, mapped, today)
    return mapped


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


def map_bundle(bundle: Any, today: dt.date) -> MappedPatient:
    """A Bundle (as parsed JSON) holding one Patient and their Observations and Conditions."""
    return map_resources(resources_of_bundle(bundle), today, patient_aliases(bundle))
