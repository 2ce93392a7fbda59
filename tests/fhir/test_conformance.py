"""What the EHR routes send is valid FHIR R4, checked three ways: by fhir.resources, by
the official FHIR R4 JSON schema through an independent validator (ajv, in node:
tests/fhir/validate_fhir.js), and by the invariants and code-system rules the schema
cannot express (RiskAssessment's ras-1 and ras-2, displays verbatim, valid references)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from starlette.testclient import TestClient

from stroke_risk.core.config import REPO_ROOT, Settings
from stroke_risk.fhir.routes import build_app
from tests.fhir.builders import about, bundle, example, observation, patient

VALIDATOR = REPO_ROOT / "tests" / "fhir" / "validate_fhir.js"
SCHEMA_PACKAGE = REPO_ROOT / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator"
UCUM = "http://unitsofmeasure.org"
# terminology.hl7.org/CodeSystem/risk-probability: code -> display, verbatim.
RISK_PROBABILITY_DISPLAYS = {
    "negligible": "Negligible likelihood",
    "low": "Low likelihood",
    "moderate": "Moderate likelihood",
    "high": "High likelihood",
    "certain": "Certain",
}
LITERAL_REFERENCE = re.compile(r"^(Patient|Observation|Condition)/[A-Za-z0-9\-.]{1,64}$")
TODAY = dt.date.today()
RECENT = (TODAY - dt.timedelta(days=20)).isoformat()


def schema_errors(resources: list[dict[str, Any]]) -> list[list[str]]:
    """The FHIR R4 JSON schema's errors for each resource (ajv, in node)."""
    if shutil.which("node") is None or not SCHEMA_PACKAGE.is_dir():
        pytest.fail("the FHIR JSON schema validator is not installed: run `make node-deps`")
    done = subprocess.run(
        ["node", str(VALIDATOR)],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    return json.loads(done.stdout)


def invariant_problems(resource: dict[str, Any]) -> list[str]:
    """RiskAssessment rules the JSON schema does not check (FHIR R4 riskassessment.html)."""
    problems = []
    subject = resource.get("subject", {})
    if "reference" in subject and not LITERAL_REFERENCE.match(subject["reference"]):
        problems.append(f"subject reference {subject['reference']!r} names no resource")
    if not subject.get("reference") and not subject.get("display"):
        problems.append("subject has neither a reference nor a display")
    for basis in resource.get("basis", []):
        if not LITERAL_REFERENCE.match(basis.get("reference", "")):
            problems.append(f"basis reference {basis!r} names no resource")
    decimals = []
    for prediction in resource.get("prediction", []):
        if "probabilityDecimal" in prediction:
            value = prediction["probabilityDecimal"]
            if not 0 <= value <= 1:  # ras-1 allows up to 100; ours is a fraction
                problems.append(f"probabilityDecimal {value} is not a fraction")
            decimals.append(value)
        for end in ("low", "high"):
            quantity = prediction.get("probabilityRange", {}).get(end)
            if quantity is not None and (
                quantity.get("code") != "%" or quantity.get("system") != UCUM
            ):  # ras-2
                problems.append(f"probabilityRange.{end} {quantity} is not a UCUM percentage")
        for coding in prediction.get("qualitativeRisk", {}).get("coding", []):
            if coding.get("display") != RISK_PROBABILITY_DISPLAYS.get(coding.get("code")):
                problems.append(f"qualitativeRisk display {coding.get('display')!r} not verbatim")
    ranges = [
        p["probabilityRange"] for p in resource.get("prediction", []) if "probabilityRange" in p
    ]
    for decimal in decimals:  # one scale: the point lies in each range, both in percent
        for bounds in ranges:
            if not bounds["low"]["value"] <= round(100 * decimal, 1) <= bounds["high"]["value"]:
                problems.append(f"{decimal} is outside the range {bounds}")
    return problems


@pytest.fixture(scope="module")
def client(assessor) -> TestClient:
    return TestClient(build_app(lambda: assessor, Settings()))


def post(client: TestClient, body: Any) -> tuple[int, dict[str, Any]]:
    reply = client.post(
        "/fhir/risk-assessment", json=body, headers={"Content-Type": "application/fhir+json"}
    )
    return reply.status_code, reply.json()


def _unrecorded_fields_chart() -> dict[str, Any]:
    person = patient("1950-02-01", "male", None)
    return bundle(person, observation("2345-7", 160, "mg/dL", RECENT))


def _without_id() -> dict[str, Any]:
    person = {k: v for k, v in patient("1950-02-01", "female").items() if k != "id"}
    glucose = {
        **observation("2345-7", 120, "mg/dL", RECENT),
        "subject": {"reference": "urn:uuid:0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60"},
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60", "resource": person},
            {"resource": glucose},
        ],
    }


def _stroke_recorded() -> dict[str, Any]:
    person = patient("1950-02-01", "female")
    stroke = about(person, example("hl7-r4/condition-example-stroke.json"))
    return bundle(person, observation("2345-7", 120, "mg/dL", RECENT), stroke)


def _nested() -> dict[str, Any]:
    extension: list = [{"url": "http://example.org/leaf", "valueString": "x"}]
    for _ in range(130):
        extension = [{"url": "http://example.org/n", "extension": extension}]
    return bundle({**patient(), "extension": extension})


CASES = {
    "synthea chart": (example("synthea-style-bundle.json"), 200),
    "unrecorded fields, a range": (_unrecorded_fields_chart(), 200),
    "patient without an id": (_without_id(), 200),
    "stroke recorded, no estimate": (_stroke_recorded(), 200),
    "not enough data": (bundle(patient()), 422),
    "nested 130 deep": (_nested(), 400),
    "not a bundle": ({"resourceType": "Patient"}, 400),
}


@pytest.fixture(scope="module")
def replies(client) -> dict[str, tuple[int, dict[str, Any]]]:
    return {name: post(client, body) for name, (body, _) in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_each_reply_is_what_its_case_promises(replies, name: str) -> None:
    status, body = replies[name]
    expected_type = "RiskAssessment" if CASES[name][1] == 200 else "OperationOutcome"
    assert (status, body["resourceType"]) == (CASES[name][1], expected_type), body


def test_every_reply_is_valid_under_the_official_fhir_r4_json_schema(replies) -> None:
    bodies = [body for _, body in replies.values()]
    errors = schema_errors(bodies)
    assert all(not found for found in errors), dict(zip(replies, errors, strict=True))


def test_the_schema_validator_catches_what_main_used_to_send() -> None:
    """The independent check can fail: a bare probabilityRange value with a wrong type, a
    resource type that does not exist."""
    broken = [
        {
            "resourceType": "RiskAssessment",
            "status": "final",
            "subject": {"reference": "Patient/p"},
            "prediction": [{"probabilityRange": {"low": {"value": "6.6"}}}],
        },
        {"resourceType": "RiskAssesment", "status": "final"},
    ]
    assert all(schema_errors(broken))


@pytest.mark.parametrize("name", [n for n, (_, s) in CASES.items() if s == 200])
def test_every_risk_assessment_keeps_the_invariants_and_code_system_displays(
    replies, name: str
) -> None:
    assert invariant_problems(replies[name][1]) == []


def test_the_invariant_check_finds_what_main_used_to_send() -> None:
    old = {
        "resourceType": "RiskAssessment",
        "subject": {"reference": "Patient"},
        "prediction": [
            {
                "probabilityDecimal": 0.08,
                "qualitativeRisk": {"coding": [{"code": "moderate", "display": "Moderate"}]},
            },
            {"probabilityRange": {"low": {"value": 0.0664}, "high": {"value": 0.0912}}},
        ],
    }
    assert len(invariant_problems(old)) == 5


def test_a_range_is_in_ucum_percent_on_the_decimals_scale(replies) -> None:
    predictions = replies["unrecorded fields, a range"][1]["prediction"]
    ranges = [p["probabilityRange"] for p in predictions if "probabilityRange" in p]
    assert ranges and all(r["low"]["code"] == r["high"]["code"] == "%" for r in ranges)
    assert all(r["low"]["value"] > 1 for r in ranges)  # percentages, not fractions


def test_a_patient_without_an_id_is_described_not_referred_to_as_patient(replies) -> None:
    subject = replies["patient without an id"][1]["subject"]
    assert "reference" not in subject and "no id" in subject["display"]
