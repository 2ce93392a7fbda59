"""FHIR R4 resources -> the fields of our :class:`~stroke_risk.core.schema.Patient`.

The one documented place where EHR data becomes model input (docs/ehr/fhir-mapping.md
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

The rules live by what they map: :mod:`.patient` (and whose record a resource is),
:mod:`.observations`, :mod:`.conditions`; :mod:`.provenance` records where each value
came from. This module parses and validates (the one door to the ``fhir.resources``
models, with :mod:`.validator_speedups` installed first) and puts the rules together.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, get_args

import msgspec
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from stroke_risk.fhir import validator_speedups
from stroke_risk.fhir.codes import code_lists
from stroke_risk.fhir.conditions import map_conditions
from stroke_risk.fhir.observations import map_bmi, map_glucose, map_non_clinical, map_smoking
from stroke_risk.fhir.patient import (
    about_the_patient,
    is_the_patient,
    map_patient,
    patient_aliases,
)
from stroke_risk.fhir.provenance import MappedPatient, Source, plain, reference_of
from stroke_risk.fhir.quick_observations import build_validators, quick_observation

# Every model class is built after this (fhir.resources builds them on first use, and the
# EHR modules reach them through get_fhir_model_class, imported from here; the rule
# modules above only read models they are given).
validator_speedups.install()

__all__ = [
    "FhirInputError",
    "MappedPatient",
    "build_model_classes",
    "Source",
    "get_fhir_model_class",
    "is_the_patient",
    "map_bundle",
    "map_resources",
    "parse_resource",
    "plain",
    "resources_of_bundle",
]

# Deepest JSON nesting read (objects and arrays): the deepest element of an R4 Patient,
# Observation or Condition is about 8 levels down; extensions nested 130 deep made
# fhir.resources recurse until Python's limit (a RecursionError, a 500 and a 278 KB log).
MAX_DEPTH = 32
USED_RESOURCE_TYPES = ("Patient", "Observation", "Condition")


class FhirInputError(ValueError):
    """A bundle or resource that cannot be read; names the resource and the element."""

    def __init__(self, message: str, location: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.status = status


def build_model_classes() -> None:
    """Build now every model class a chart or a reply can need, and the quick validators.

    fhir.resources builds a class when validation first meets its type (Coding, Period,
    Extension...). The service calls this when it builds the EHR routes, so that they are
    in place, and frozen with what start-up loaded, before the first chart: 62 classes,
    about 0.2 s and 9 MB, once. Each class's fields name their types; the walk follows them.
    """
    built: set[type] = set()
    waiting = [
        get_fhir_model_class(name)
        for name in (*USED_RESOURCE_TYPES, "Bundle", "RiskAssessment", "OperationOutcome")
    ]
    while waiting:
        model = waiting.pop()
        if model in built:
            continue
        built.add(model)
        for field in model.model_fields.values():
            annotations = [field.annotation]
            while annotations:
                annotation = annotations.pop()
                if isinstance(annotation, type) and hasattr(annotation, "get_model_klass"):
                    waiting.append(annotation.get_model_klass())
                annotations.extend(get_args(annotation))
    build_validators(get_fhir_model_class)


# --- parsing --------------------------------------------------------------------------


def deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``limit`` levels deep.

    Level by level, without recursion (so it cannot itself run out of stack), and at most
    ``limit`` levels down; about a fifth of the cost of a walk with an explicit stack.
    """
    level = [value]
    for _ in range(limit):
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        if not below:
            return False
        level = below
    return True


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

    An EHR's Observation also carries category, encounter, performer,
    interpretation, reference ranges, notes and more (US Core's lab profile): validating
    all of them took 2.7 times as long per Observation (22 ms for 200 instead of 8), most
    of a CDS Hooks call, and a malformed one would refuse a whole chart over something the
    estimate never uses. What is read is still validated by fhir.resources.

    ``issued`` is read only for an Observation without an effective date or instant
    (observation_date), so beside one it is set aside too: an instant is the slowest
    element to validate, and US Core's lab results carry both.
    """
    kept = {key: value for key, value in raw.items() if _read(key)}
    if ("issued" in kept or "_issued" in kept) and (
        kept.get("effectiveDateTime") is not None or kept.get("effectiveInstant") is not None
    ):
        kept.pop("issued", None)
        kept.pop("_issued", None)
    return kept


@lru_cache(maxsize=4096)  # looked up once per name: R4's are few, any others bounded here
def _read(key: str) -> bool:
    element = key.removeprefix("_")
    return element in _OBSERVATION_ELEMENTS or element.startswith(_OBSERVATION_CHOICES)


# An Observation's elements that a chart repeats from one Observation to the next (the same
# LOINC code, the same subject): each distinct one is validated once per bundle.
_REPEATED_ELEMENTS = (("code", "CodeableConcept"), ("subject", "Reference"))


def _validated_once(raw: dict[str, Any], seen: dict[bytes, Any]) -> dict[str, Any]:
    """``raw`` with its repeated elements replaced by models validated once per bundle.

    200 glucose readings hold the same ``code`` and ``subject``; validating them once and
    handing the Observation the validated models (pydantic takes a model as it is) is a
    third of each Observation's validation, with the same result. An element that fails is
    left as it was, so the Observation's own validation reports it, in the same words."""
    replaced = None
    for name, type_name in _REPEATED_ELEMENTS:
        element = raw.get(name)
        if type(element) is not dict:
            continue
        try:
            key = name.encode() + msgspec.json.encode(element)
        except (RecursionError, TypeError):  # left to the checks below
            continue
        if key not in seen:
            seen[key] = None  # too deep or invalid: the Observation's own checks say so
            if not deeper_than(element, MAX_DEPTH - 1):
                try:
                    seen[key] = get_fhir_model_class(type_name).model_validate(element)
                except ValidationError:
                    pass
        if seen[key] is not None:
            replaced = replaced if replaced is not None else dict(raw)
            replaced[name] = seen[key]
    return replaced if replaced is not None else raw


def parse_resource(raw: Any, index: int | None = None, seen: dict[bytes, Any] | None = None) -> Any:
    """A validated R4 resource of a type we read; None for types and codes we do not use.
    Of an Observation, only the elements a rule reads are validated (and kept); with
    ``seen`` (one bundle's), its repeated elements are validated once."""
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        raise FhirInputError("each entry needs a resource with a resourceType", f"entry[{index}]")
    resource_type = raw["resourceType"]
    if resource_type not in USED_RESOURCE_TYPES or _never_read(raw):
        return None
    if resource_type == "Observation":
        raw = _read_elements(raw)
        if seen is not None:  # validated models are not walked again below
            raw = _validated_once(raw, seen)
            # The usual lab shape, by fhir.resources' own field rules. Before the depth
            # check: its validator takes only flat elements (and models), so it never
            # walks nesting.
            quick = quick_observation(raw, get_fhir_model_class)
            if quick is not None:
                return quick
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
    seen: dict[bytes, Any] = {}  # this bundle's repeated elements, validated once
    for index, entry in enumerate(entries):
        raw = entry.get("resource") if isinstance(entry, dict) else None
        resource = parse_resource(raw, index, seen)
        if resource is not None:
            parsed.append(resource)
    return parsed


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
    mapped = MappedPatient(reference_of(patient) if patient.id else None)
    others = [r for r in resources if r.get_resource_type() != "Patient"]
    mine = about_the_patient(others, patient, set(aliases), mapped)
    observations = [r for r in mine if r.get_resource_type() == "Observation"]
    conditions = [r for r in mine if r.get_resource_type() == "Condition"]
    map_patient(patient, mapped, today)
    map_conditions(conditions, mapped)
    map_glucose(observations, mapped, today)
    map_bmi(observations, mapped, today)
    map_smoking(observations, mapped, today)
    map_non_clinical(observations, mapped, today)
    return mapped


def map_bundle(bundle: Any, today: dt.date) -> MappedPatient:
    """A Bundle (as parsed JSON) holding one Patient and their Observations and Conditions."""
    return map_resources(resources_of_bundle(bundle), today, patient_aliases(bundle))
