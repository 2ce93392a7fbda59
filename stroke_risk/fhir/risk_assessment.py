"""An estimate as a FHIR R4 ``RiskAssessment``, and refusals as an ``OperationOutcome``.

Both are validated with ``fhir.resources`` before they leave, so an EHR never receives a
resource its own validator would reject. What the prediction's outcome is comes from the
reply's ``outcome`` (the model's record): a stroke history has no time window (no
``when[x]``) and a ``note`` saying it is not a prospective risk; an incident outcome gets a
``whenRange`` of its horizon.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stroke_risk.core.outcome import OutcomeSummary
from stroke_risk.core.reply_flags import INTERVAL_LABEL, flag_sentences
from stroke_risk.fhir.estimate import FHIR_ELEMENT, Estimate
from stroke_risk.fhir.mapping import get_fhir_model_class
from stroke_risk.fhir.texts import details, outcome_of

SNOMED = "http://snomed.info/sct"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
MODEL_SYSTEM = "urn:stroke-risk:model"
STROKE_CODING = {"system": SNOMED, "code": "230690007", "display": "Cerebrovascular accident"}
# A refusal names no model's outcome: the condition alone.
STROKE = {"coding": [STROKE_CODING]}
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


def outcome_concept(outcome: OutcomeSummary) -> dict[str, Any]:
    """``prediction.outcome``: the condition's code, and in ``text`` what is predicted
    (a stroke history, or a stroke within the horizon)."""
    return {"coding": [STROKE_CODING], "text": outcome.fhir_outcome_text}


def when(outcome: OutcomeSummary) -> dict[str, Any]:
    """``whenRange`` for an incident outcome's horizon; nothing for a history (no window)."""
    if outcome.horizon_years is None:
        return {}
    years = {"unit": "years", "system": UCUM, "code": "a"}
    return {
        "whenRange": {
            "low": {"value": 0, **years},
            "high": {"value": outcome.horizon_years, **years},
        }
    }


def outcome_note(outcome: OutcomeSummary, card_url: str | None) -> str:
    """The note naming the label, whether it is a prospective risk, and the model card."""
    text = f"Outcome: {outcome.label}."
    if outcome.not_prospective:
        text += f" {outcome.not_prospective}"
    if card_url:
        text += f" Model card: {card_url}"
    return text


def risk_assessment(
    estimate: Estimate, now: dt.datetime, card_url: str | None = None
) -> dict[str, Any]:
    """The RiskAssessment for a scored or not-applicable estimate, as JSON-ready data.

    ``prediction[0]`` is the estimate (probabilityDecimal). Ranges are further predictions
    of the same outcome with ``probabilityRange``, each saying what it is in ``rationale``:
    FHIR allows one probability per prediction, so a point and a range cannot share one.
    ``card_url`` is the served model card of the model that answered, named in a note.
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
    outcome = outcome_of(estimate)
    body["method"] = {
        "coding": [{"system": MODEL_SYSTEM, "code": result.get("model_tag", "unknown")}],
        "text": f"stroke-risk model {result.get('model_tag', '')}".strip(),
    }
    prediction: dict[str, Any] = {
        "outcome": outcome_concept(outcome),
        "probabilityDecimal": result["probability"],
        "qualitativeRisk": _qualitative(result["risk_band"]),
        "rationale": details(estimate),
        **when(outcome),
    }
    relative = (result.get("comparison") or {}).get("relative_risk")
    if isinstance(relative, int | float):
        prediction["relativeRisk"] = relative
    predictions = [prediction]
    interval = result.get("probability_interval")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        name = result.get("interval_name")
        rationale = f"{INTERVAL_LABEL}: {name}" if name else f"{INTERVAL_LABEL} of the estimate"
        predictions.append(_range(interval[0], interval[1], rationale, outcome))
    if estimate.assumed and estimate.low is not None and estimate.high is not None:
        unknown = ", ".join(estimate.assumed)
        predictions.append(
            _range(
                estimate.low, estimate.high, f"lowest to highest over unrecorded {unknown}", outcome
            )
        )
    body["prediction"] = predictions
    body["note"] = [
        {"text": outcome_note(outcome, card_url)},
        *({"text": sentence} for sentence in flag_sentences(result)),
        {"text": result.get("disclaimer", "Decision support, not a diagnosis.")},
    ]
    return _validated(body)


def _subject(reference: str | None) -> dict[str, str]:
    """``Patient/<id>``; a Patient sent without an id can only be described (a bare
    "Patient" is not a valid reference)."""
    if reference:
        return {"reference": reference}
    return {"display": "the Patient of the submitted Bundle (it has no id)"}


def _range(low: float, high: float, rationale: str, outcome: OutcomeSummary) -> dict[str, Any]:
    return {
        "outcome": outcome_concept(outcome),
        "probabilityRange": {"low": _percent(low), "high": _percent(high)},
        "rationale": rationale,
        **when(outcome),
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
