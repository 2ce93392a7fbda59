"""stroke_risk.fhir.quick_observations: the usual lab Observation, faster, and never a
different model or verdict from fhir.resources.

The property is one-sided: the quick path may decline anything (fhir.resources then decides
whole), but whatever it accepts, fhir.resources accepts too, with an equal model (every
field, the fields given, the Quantity inside). A seeded generator makes variants of the
usual shape: valid and invalid ids, statuses, dates, instants, decimals, units, missing and
null elements, and the elements that must send an Observation the long way (a comparator,
an extension, a second value[x], a modifier extension...).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bench.bench_cds import chart
from stroke_risk.fhir import mapping
from stroke_risk.fhir.quick_observations import checked_versions, quick_observation
from tests.fhir.builders import LOINC, UCUM, observation

DATA = Path(__file__).with_name("data")
model_class = mapping.get_fhir_model_class
ABSENT = object()


def _prepared(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as parse_resource hands it over: the elements read, code and subject validated."""
    return mapping._validated_once(mapping._read_elements(raw), {})


def _full(raw: dict[str, Any]) -> Any:
    """fhir.resources' verdict: the model, or the ValidationError."""
    try:
        return model_class("Observation").model_validate(copy.copy(raw))
    except (ValidationError, ValueError) as error:
        return error


def assert_same_model(quick: Any, full: Any) -> None:
    assert type(quick) is type(full)
    assert quick == full
    assert quick.model_fields_set == full.model_fields_set
    assert list(quick.__dict__) == list(full.__dict__)  # the order model_dump writes
    for model, other in ((quick, full), (quick.valueQuantity, full.valueQuantity)):
        if other is not None:  # what pydantic sets beside the fields
            assert model.__pydantic_extra__ is other.__pydantic_extra__ is None
            assert model.__pydantic_private__ is other.__pydantic_private__ is None
    assert quick.model_dump() == full.model_dump()
    assert quick.model_dump_json() == full.model_dump_json()
    if full.valueQuantity is not None:
        assert type(quick.valueQuantity) is type(full.valueQuantity)
        assert quick.valueQuantity.model_fields_set == full.valueQuantity.model_fields_set
        assert type(quick.valueQuantity.value) is type(full.valueQuantity.value)
    for name in ("effectiveDateTime", "issued"):
        assert type(getattr(quick, name)) is type(getattr(full, name))


def _example_observations() -> list[dict[str, Any]]:
    found = []
    for path in sorted(DATA.rglob("*.json")):
        document = json.loads(path.read_text())
        resources = (
            [e["resource"] for e in document["entry"]]
            if document["resourceType"] == "Bundle"
            else [document]
        )
        found += [r for r in resources if r["resourceType"] == "Observation"]
    return found


def test_a_charts_lab_observations_take_the_quick_path_and_equal_fhir_resources_models():
    prefetch = chart(dt.date(2026, 12, 7), us_core=True)
    raws = [entry["resource"] for entry in prefetch["observations"]["entry"]]
    quick_ones = 0
    for raw in raws:
        prepared = _prepared(raw)
        quick = quick_observation(prepared, model_class)
        if "valueQuantity" in raw:  # the coded smoking status goes the long way
            assert quick is not None, raw
            quick_ones += 1
        if quick is not None:
            assert_same_model(quick, _full(prepared))
    assert quick_ones == len(raws) - 1


def test_the_published_examples_are_equal_either_way():
    for raw in _example_observations():
        prepared = _prepared(raw)
        quick = quick_observation(prepared, model_class)
        if quick is not None:
            assert_same_model(quick, _full(prepared))


def test_parse_resource_gives_the_quick_model_and_fhir_resources_errors_unchanged():
    good = observation("2345-7", 96.0, "mg/dL", "2026-12-01")
    parsed = mapping.parse_resource(good, 0, {})
    assert_same_model(parsed, _full(_prepared(good)))
    bad = observation("2345-7", 96.0, "mg/dL", "2026-13-01")
    with pytest.raises(mapping.FhirInputError) as error:
        mapping.parse_resource(bad, 3, {})
    assert error.value.location == "Bundle.entry[3].resource (Observation).effectiveDateTime"


def _with(raw: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    if value is ABSENT:
        return {k: v for k, v in raw.items() if k != key}
    return {**raw, key: value}


CODE = model_class("CodeableConcept").model_validate(
    {"coding": [{"system": LOINC, "code": "2345-7"}]}
)
SUBJECT = model_class("Reference").model_validate({"reference": "Patient/p1"})

# Each element: (values that pass, values that fail or must go the long way). ABSENT: left out.
TOP_LEVEL = {
    "id": (["o1", "a" * 64, "A-b.9", ABSENT], ["", "a" * 65, "o 1", "o_1", 5, None]),
    "status": (
        ["final", "amended", "preliminary", "entered-in-error", "unknown", "made up"],
        ["final ", " final", "fi  nal", "", 5, None, ABSENT],
    ),
    "code": (
        [CODE],
        [{"coding": [{"system": LOINC, "code": "2345-7"}]}, {"coding": "x"}, None, ABSENT],
    ),
    "subject": (
        [SUBJECT, ABSENT],
        [{"reference": "Patient/p1"}, {"reference": 5}, "Patient/p1", None],
    ),
    "effectiveDateTime": (
        ["2026-12-05", "2026-12", "2026", "2026-12-05T10:00:00Z", "2026-12-05T10:00:00+01:00"]
        + ["2016-12-31T23:59:60Z", "2026-12-05T10:00:00.123Z", ABSENT],
        ["2026-12-05T10:00:00", "2026-13-01", "2026-02-30", "05/12/2026", "", 20261205, None]
        + ["2026-12-05T25:00:00Z", dt.date(2026, 12, 5)],
    ),
    "issued": (
        ["2026-09-01T10:00:00.000Z", "2026-09-01T10:00:00+02:00", "2016-12-31T23:59:60Z", ABSENT],
        ["2026-09-01", "2026-09-01T10:00:00", "x", 5, None],
    ),
}
QUANTITY = {
    "value": (
        [96, 96.0, 5.3, 0, -1, 1e20, 10**30, 1e-7, 123456789.123456789, ABSENT],
        [True, "96", "9 6", None, float("nan"), float("inf"), -0.0],
    ),
    "unit": (["mg/dL", "mmol/L", "mg /dL", " x", ABSENT], ["", 5, None]),
    "system": ([UCUM, "urn:x", ABSENT], ["has space", "", 5, None]),
    "code": (["mg/dL", "mmol/L", ABSENT], ["mg /dL", " x", "", 5, None]),
}
QUANTITY_EXTRAS = [{"comparator": ">"}, {"id": "q1"}, {"extension": []}, {"_value": {"id": "x"}}]
QUANTITY_EXTRAS += [{"foo": 1}, {"resourceType": "Quantity"}, {"comparator": None}]
EXTRAS = [{"valueString": "x"}, {"effectivePeriod": {"start": "2026-01-01"}}, {"_status": {}}]
EXTRAS += [{"_status": {"id": "s"}}, {"modifierExtension": [{"url": "http://x"}]}, {"foo": 1}]
EXTRAS += [
    {"dataAbsentReason": {"text": "x"}},
    {"resourceType": "Patient"},
    {"resourceType": ABSENT},
]
EXTRAS += [{"valueQuantity": []}, {"valueQuantity": 96}, {"valueQuantity": {}}]
EXTRAS += [{"valueQuantity": None}, {"valueQuantity": ABSENT}]


def _element(rng: random.Random, choices: tuple[list[Any], list[Any]], change: float) -> Any:
    passing, failing = choices
    return rng.choice(failing if rng.random() < change else passing)


def _variant(rng: random.Random, change: float) -> dict[str, Any]:
    """An Observation of the usual shape with each element changed with chance ``change``."""
    raw: dict[str, Any] = {"resourceType": "Observation"}
    for key, choices in TOP_LEVEL.items():
        raw = _with(raw, key, _element(rng, choices, change))
    quantity: dict[str, Any] = {}
    for key, choices in QUANTITY.items():
        quantity = _with(quantity, key, _element(rng, choices, change))
    if rng.random() < change:
        quantity.update(rng.choice(QUANTITY_EXTRAS))
    raw["valueQuantity"] = quantity
    if rng.random() < change:
        for key, value in rng.choice(EXTRAS).items():
            raw = _with(raw, key, value)
    return raw


def test_whatever_the_quick_path_accepts_fhir_resources_accepts_with_an_equal_model():
    rng = random.Random(20261207)
    outcomes = {"quick": 0, "declined_valid": 0, "refused": 0}
    for index in range(4000):
        raw = _variant(rng, change=0.04 if index % 2 else 0.25)
        full = _full(raw)
        quick = quick_observation(raw, model_class)
        if quick is None:
            outcomes["refused" if isinstance(full, Exception) else "declined_valid"] += 1
            continue
        assert not isinstance(full, Exception), (raw, full)
        assert_same_model(quick, full)
        outcomes["quick"] += 1
    # The property is only as good as its cases: every outcome occurs often.
    assert min(outcomes.values()) > 300, outcomes


def test_the_quick_path_is_used_only_with_the_versions_it_was_checked_against():
    """Fails on a pydantic or fhir-core upgrade: rerun this module against the new versions,
    then update CHECKED_VERSIONS. Until then every Observation goes through fhir.resources."""
    assert checked_versions()


BUILT_LATER = """
import datetime as dt, json, sys
from fhir_core.fhirabstractmodel import FHIRAbstractModel
import stroke_risk.fhir.routes
from stroke_risk.fhir import mapping, quick_observations
from stroke_risk.fhir.risk_assessment import operation_outcome
def classes(cls=FHIRAbstractModel):
    for sub in cls.__subclasses__():
        yield sub
        yield from classes(sub)
if sys.argv[1] == "built first":
    mapping.build_model_classes()
before = set(classes())
prefetch = json.load(sys.stdin)
for name in ("patient", "observations", "conditions"):
    bundle = prefetch[name]
    mapping.resources_of_bundle(bundle if name != "patient" else {
        "resourceType": "Bundle", "type": "collection", "entry": [{"resource": bundle}]})
operation_outcome("no birth date", "Patient.birthDate")
print(json.dumps(sorted(c.__name__ for c in set(classes()) - before)))
print(quick_observations._quick.cache_info().misses)
"""


def test_the_model_classes_a_chart_needs_are_built_before_it_arrives():
    """The service builds them with the routes (then freezes them with what start-up
    loaded); a chart read afterwards builds none of its own."""
    prefetch = json.dumps(chart(dt.date(2026, 12, 7), us_core=True))
    runs = {}
    for side in ("built first", "not built"):
        done = subprocess.run(
            [sys.executable, "-c", BUILT_LATER, side],
            input=prefetch,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        later, misses = done.stdout.splitlines()
        runs[side] = json.loads(later), int(misses)
    assert runs["built first"] == ([], 1)
    built_by_the_chart, _ = runs["not built"]
    assert "Observation" in built_by_the_chart
