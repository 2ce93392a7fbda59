"""An estimate as a FHIR R4 ``RiskAssessment``, and refusals as an ``OperationOutcome``.

Both are validated with ``fhir.resources`` before they leave, so an EHR never receives a
resource its own validator would reject.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stroke_risk.fhir.estimate import FHIR_ELEMENT, Estimate
from stroke_risk.fhir.mapping import get_fhir_model_class
from stroke_risk.fhir.texts import details

SNOMED = "http://snomed.info/sct"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
MODEL_SYSTEM = "urn:stroke-risk:model"
STROKE = {
    "coding": [{"system": SNOMED, "code": "230690007", "display": "Cerebrovascular accident"}]
}
UCUM = "http://unitsofmeasure.org"
# The risk-probability code system's codes for our bands, with its displays verbatim
# (terminology.hl7.org/CodeSystem-risk-probability.html).
BANDS = {
    "low": ("low", "Low likelihood"),
    "moderate": ("moderate", "Moderate likelihood"),
    "high": ("high", "High likelihood"),
}


def _qualitative(band: str) -> dict[str, Any]:
    code, display = BANDS[band]
    return {"coding": [{"system": RISK_PROBABILITY, "code": code, "display": display}]}


def _percent(probability: float) -> dict[str, Any]:
    """A probability as a UCUM percentage, as invariant ras-2 requires of a
    probabilityRange; one decimal, the rounding of every percentage the card shows."""
    return {"value": round(100 * probability, 1), "unit": "%", "system": UCUM, "code": "%"}


def risk_assessment(estimate: Estimate, now: dt.datetime) -> dict[str, Any]:
    """The RiskAssessment for a scored or not-applicable estimate, as JSON-ready data.

    ``prediction[0]`` is the estimate (probabilityDecimal). Ranges are further predictions
    of the same outcome with ``probabilityRange``, each saying what it is in ``rationale``:
    FHIR allows one probability per prediction, so a point and a range cannot share one.
    """
    mapped = estimate.mapped
    body: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": _subject(mapped.patient_reference),
        "occurrenceDateTime": now.isoformat(timespec="seconds"),
        "basis": [{"reference": reference} for reference in mapped.basis],
    }
    result = estimate.result
    if estimate.outcome != "scored" or result is None:
        body["prediction"] = [{"outcome": STROKE, "rationale": f"No estimate: {estimate.reason}"}]
        body["note"] = [{"text": details(estimate)}]
        return _validated(body)
    body["method"] = {
        "coding": [{"system": MODEL_SYSTEM, "code": result.get("model_tag", "unknown")}],
        "text": f"stroke-risk model {result.get('model_tag', '')}".strip(),
    }
    prediction: dict[str, Any] = {
        "outcome": STROKE,
        "probabilityDecimal": result["probability"],
        "qualitativeRisk": _qualitative(result["risk_band"]),
        "rationale": details(estimate),
    }
    relative = (result.get("comparison") or {}).get("relative_risk")
    if isinstance(relative, int | float):
        prediction["relativeRisk"] = relative
    predictions = [prediction]
    interval = result.get("probability_interval")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        predictions.append(_range(interval[0], interval[1], "95% interval of the estimate"))
    if estimate.assumed and estimate.low is not None and estimate.high is not None:
        unknown = ", ".join(estimate.assumed)
        predictions.append(
            _range(estimate.low, estimate.high, f"lowest to highest over unrecorded {unknown}")
        )
    body["prediction"] = predictions
    body["note"] = [{"text": result.get("disclaimer", "Decision support, not a diagnosis.")}]
    return _validated(body)


def _subject(reference: str | None) -> dict[str, str]:
    """``Patient/<id>``; a Patient sent without an id can only be described (a bare
    "Patient" is not a valid reference)."""
    if reference:
        return {"reference": reference}
    return {"display": "the Patient of the submitted Bundle (it has no id)"}


def _range(low: float, high: float, rationale: str) -> dict[str, Any]:
    return {
        "outcome": STROKE,
        "probabilityRange": {"low": _percent(low), "high": _percent(high)},
        "rationale": rationale,
    }


def operation_outcome(message: str, location: str | None, code: str = "invalid") -> dict[str, Any]:
    """One error issue naming the resource and element (``expression``) it is about."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": message}
    if location:
        issue["expression"] = [location]
    return _validated({"resourceType": "OperationOutcome", "issue": [issue]})


def refusal_outcome(estimate: Estimate) -> dict[str, Any]:
    """Not enough data, or a patient the model refuses (e.g. under 18): name each element."""
    elements = [FHIR_ELEMENT.get(name, name) for name in estimate.fields]
    code = "required" if estimate.outcome == "not_enough_data" else "business-rule"
    return operation_outcome(estimate.reason, ", ".join(elements) or None, code)


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body
