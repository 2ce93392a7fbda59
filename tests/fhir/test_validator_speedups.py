"""stroke_risk.fhir.validator_speedups: faster, and never a different verdict.

Each side runs in its own interpreter, because the validators are taken when a model class
is built, once per process: one with the replacements installed (``import stroke_risk.fhir.mapping``
first), one with fhir.resources alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from stroke_risk.fhir.validator_speedups import CHECKED_FHIR_CORE
from tests.fhir.builders import ICD10CM, coded_observation, condition, observation, patient

DATA = Path(__file__).with_name("data")

VALIDATE_ALL = """
import json, sys
if sys.argv[1] == "speedups":
    import stroke_risk.fhir.mapping
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
out = []
for raw in json.load(sys.stdin):
    try:
        get_fhir_model_class(raw["resourceType"]).model_validate(raw)
        out.append("valid")
    except ValidationError as error:
        out.append([[list(map(str, e["loc"])), e["type"], e["msg"]]
                    for e in error.errors(include_input=False, include_url=False)])
    except ValueError as error:
        out.append(["ValueError", str(error)])
print(json.dumps(out))
"""

BUILT_CLASSES = """
import stroke_risk.fhir.routes
import stroke_risk.fhir.mapping as mapping
import stroke_risk.fhir.risk_assessment as risk_assessment
import stroke_risk.fhir.validator_speedups as speedups
from fhir_core.fhirabstractmodel import FHIRAbstractModel
mapping.build_model_classes()
for path in __import__("sys").argv[1:]:
    mapping.parse_resource(__import__("json").load(open(path)))
risk_assessment.operation_outcome("no birth date", "Patient.birthDate")
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
slow = []
built = list(subclasses(FHIRAbstractModel))
for cls in built:
    validators = cls.__pydantic_decorators__.model_validators
    if validators["reject_null_complex_elements"].func.__func__ is not (
        speedups.reject_null_complex_elements
    ) or validators["validate_after_model_construction"].func is not (
        speedups.validate_after_model_construction
    ):
        slow.append(cls.__name__)
print(len(built), slow)
"""


def _examples() -> list[dict[str, Any]]:
    """The HL7 and Synthea examples (bundles opened up) and the resources the tests build."""
    resources = []
    for path in sorted(DATA.rglob("*.json")):
        document = json.loads(path.read_text())
        if document["resourceType"] == "Bundle":
            resources += [entry["resource"] for entry in document["entry"]]
        else:
            resources.append(document)
    today = dt.date(2026, 11, 30).isoformat()
    return resources + [
        patient("1958-03-14", "female", "M"),
        {**condition("I48", ICD10CM), "subject": {"reference": "Patient/p"}},  # 1..1
        observation("15074-8", 5.3, "mmol/L", today),
        coded_observation("72166-2", "8517006", today),
    ]


def _broken_variants(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Each element dropped in turn (required ones, required choices), a null put in each
    list of objects, a second choice of type beside each one, at the top and one level down."""
    variants = []
    for key, value in resource.items():
        if key == "resourceType":
            continue
        variants.append({k: v for k, v in resource.items() if k != key})
        if key == "status":  # a required primitive left out, its extension standing in
            absent = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason"}
            without = {k: v for k, v in resource.items() if k != key}
            variants.append(
                {**without, "_status": {"extension": [{**absent, "valueCode": "unknown"}]}}
            )
            variants.append({**without, "_status": {"extension": []}})
        if isinstance(value, list) and value and isinstance(value[0], dict):
            variants.append({**resource, key: [*value, None]})
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                variants.append({**resource, key: {k: v for k, v in value.items() if k != inner}})
                if isinstance(inner_value, list) and inner_value:
                    variants.append({**resource, key: {**value, inner: [None, *inner_value]}})
        for choice, second in (
            ("value", {"valueString": "a second value"}),
            ("effective", {"effectiveInstant": "2020-01-01T00:00:00Z"}),
            ("deceased", {"deceasedBoolean": False}),
            ("onset", {"onsetString": "childhood"}),
        ):
            if key.startswith(choice) and next(iter(second)) != key:
                variants.append({**copy.deepcopy(resource), **second})
    return variants


def _validate_all(resources: list[dict[str, Any]], side: str) -> list[Any]:
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_ALL, side],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout)


def test_validation_verdicts_and_errors_are_those_of_fhir_resources_alone():
    examples = _examples()
    resources = examples + [v for r in examples for v in _broken_variants(r)]
    faster = _validate_all(resources, "speedups")
    plain = _validate_all(resources, "plain")
    differing = [
        (resource, mine, theirs)
        for resource, mine, theirs in zip(resources, faster, plain, strict=True)
        if mine != theirs
    ]
    assert not differing, differing[:3]
    # The comparison covers each rule the replacements implement, both ways.
    text = json.dumps(plain)
    assert faster[: len(examples)] == ["valid"] * len(examples)
    for message in (
        "None is not allowed as an element of",
        "but got multiple",
        "Value for the field 'status' is required",
    ):
        assert message in text, message
    assert sum(verdict != "valid" for verdict in plain) > 50


def test_every_model_class_the_service_builds_uses_the_replacements():
    examples = [str(p) for p in sorted(DATA.rglob("*.json")) if "Bundle" not in p.read_text()]
    done = subprocess.run(
        [sys.executable, "-c", BUILT_CLASSES, *examples],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    built, slow = done.stdout.split(" ", 1)
    assert int(built) > 60
    assert slow.strip() == "[]"


def test_the_replacements_are_installed_for_the_fhir_core_they_were_checked_against():
    """Fails on a fhir_core upgrade: compare the new validators with the replacements (and
    rerun the test above), then update CHECKED_FHIR_CORE. Until then the originals run."""
    assert importlib.metadata.version("fhir-core") == CHECKED_FHIR_CORE
