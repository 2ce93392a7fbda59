"""The words of a FHIR rationale and a CDS Hooks card, from an assessment reply.

Read defensively: only ``probability``, ``percent``, ``risk_band``, ``comparison``,
``contributing_factors[].label/direction``, ``what_if[].change/probability``,
``warnings``, ``model_tag`` and ``disclaimer`` are relied on; ``probability_interval``,
``reference``, ``guidance`` and ``outcome`` are used when present, so the reply may grow
without breaking the EHR's view of it. What the number is comes from the reply's
``outcome`` (the model's own record; a reply without one is the shipped history model's):
a history number is never called a risk.
"""

from __future__ import annotations

from typing import Any

from stroke_risk.core.outcome import OutcomeSummary, outcome_of_reply
from stroke_risk.core.reply_flags import BEYOND_THE_DATA, flag_sentences, interval_words
from stroke_risk.fhir.estimate import Estimate

LABELS = {
    "age": "Age",
    "gender": "Sex",
    "ever_married": "Ever married",
    "hypertension": "Hypertension",
    "heart_disease": "Heart disease",
    "avg_glucose_level": "Glucose (mg/dL)",
    "bmi": "BMI",
    "smoking_status": "Smoking",
    "work_type": "Work type",
    "residence_type": "Residence",
}


def pct(probability: float) -> str:
    return f"{100 * probability:.1f}%"


# A card or notice with no estimate: it names no outcome, as no model answered.
NOT_ESTIMATED = "No stroke estimate"


def outcome_of(estimate: Estimate) -> OutcomeSummary:
    """What the estimate's number is, from its reply (the shipped history model's if the
    reply names none)."""
    return outcome_of_reply(estimate.result)


def headline(result: dict[str, Any], outcome: OutcomeSummary) -> str:
    """'Stroke history 12.3% (moderate band, not a future risk)' for a history model;
    '5-year stroke risk 12.3% (moderate)' for an incident one; then whether the number is
    beyond the data and whether its band is settled."""
    percent = pct(result["probability"])
    if outcome.is_prospective:
        text = f"{outcome.short_label} {percent} ({result['risk_band']})"
    else:
        text = f"{outcome.short_label} {percent} ({result['risk_band']} band, not a future risk)"
    if result.get("beyond_data"):
        text += f", {BEYOND_THE_DATA}"
    if result.get("interval_crosses_band_edge"):
        text += ", band not settled"
    return text


def summary(estimate: Estimate) -> str:
    """One line of at most 140 characters, as CDS Hooks asks of a card's summary."""
    if estimate.outcome != "scored" or estimate.result is None:
        text = f"{NOT_ESTIMATED}: {estimate.reason}"
    else:
        result = estimate.result
        # One rounding rule for every percentage of a card (pct), from the probabilities
        # themselves: the reply's own "percent" is rounded another way, and a headline
        # 9.9% beside a range 7.1%-9.8% read as a contradiction.
        text = headline(result, outcome_of(estimate))
        if estimate.low is not None and estimate.high is not None and estimate.high > estimate.low:
            text += f", {pct(estimate.low)}-{pct(estimate.high)} over unrecorded fields"
        comparison = result.get("comparison") or {}
        if "relative_risk" in comparison:
            text += f"; {comparison['relative_risk']}x peers"
    return text if len(text) <= 140 else text[:139] + "…"


def _lines_about_data(estimate: Estimate) -> list[str]:
    lines = []
    for source in estimate.mapped.sources:
        if source.field in LABELS:
            lines.append(f"- {source.describe(LABELS[source.field])}")
    for name, value in estimate.assumed.items():
        lines.append(f"- {LABELS[name]} not recorded: headline uses the most common, {value}")
    for note in estimate.mapped.notes:
        lines.append(f"- {note}")
    return lines


def details(estimate: Estimate) -> str:
    """Markdown: drivers, what-ifs, the peer comparison, and where every value came from."""
    if estimate.outcome != "scored" or estimate.result is None:
        parts = [f"**No estimate**: {estimate.reason}."]
        data = _lines_about_data(estimate)
        if data:
            parts += ["", "**Data found**", *data]
        return "\n".join(parts)
    result = estimate.result
    outcome = outcome_of(estimate)
    parts = [
        f"**{outcome.headline}: {pct(result['probability'])}**, {result['risk_band']} band.",
        outcome.natural_frequency(result["probability"]),
    ]
    if outcome.not_prospective:
        parts.append(outcome.not_prospective)
    interval = result.get("probability_interval")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        name = result.get("interval_name")
        if isinstance(name, str):
            parts.append(f"{interval_words(name, interval[0], interval[1])}.")
        else:
            parts.append(f"95% interval {pct(interval[0])} to {pct(interval[1])}.")
    parts += flag_sentences(result)
    if estimate.low is not None and estimate.high is not None and estimate.high > estimate.low:
        unknown = ", ".join(LABELS[name].lower() for name in estimate.assumed)
        parts.append(
            f"Between {pct(estimate.low)} and {pct(estimate.high)} "
            f"depending on {unknown} (not recorded)."
        )
    comparison = result.get("comparison") or {}
    if comparison:
        parts.append(
            f"Peers ({comparison.get('group', 'same sex and age')}): average "
            f"{pct(comparison.get('average_risk', 0.0))}; this patient "
            f"{comparison.get('relative_risk', '?')} times that."
        )
    factors = [f for f in result.get("contributing_factors") or [] if f.get("direction") != "none"]
    if factors:
        parts += ["", f"**What drives it**{_against(result)}"]
        parts += [f"- {_factor(f)}" for f in factors]
    what_if = result.get("what_if") or []
    if what_if:
        parts += ["", "**What if**"]
        parts += [f"- {w['change']}: {pct(w['probability'])}" for w in what_if]
    guidance = result.get("guidance") or []
    if guidance:
        parts += ["", "**Guidance** (guideline pointers, not from the model)"]
        parts += [f"- {_guidance(g)}" for g in guidance]
    for warning in result.get("warnings") or []:
        parts.append(f"\n⚠ {warning}")
    parts += ["", "**Data used**", *_lines_about_data(estimate)]
    parts += ["", f"Model {result.get('model_tag', '?')}. {result.get('disclaimer', '')}".strip()]
    return "\n".join(parts)


def _against(result: dict[str, Any]) -> str:
    """Whom the drivers are measured against, when the reply says (``reference`` text or a
    ``reference_patient`` with a description)."""
    reference = result.get("reference")
    if isinstance(reference, str):
        return f" (against {reference})"
    patient = result.get("reference_patient")
    if isinstance(patient, dict) and isinstance(patient.get("description"), str):
        return f" (against {patient['description']})"
    return ""


def _factor(factor: dict[str, Any]) -> str:
    text = f"{factor.get('label', factor.get('factor'))}: {factor['direction']} risk"
    odds = factor.get("odds_ratio", factor.get("odds_multiplier"))
    if isinstance(odds, int | float):
        text += f" (odds ×{odds:.3g})"
    return text


def _guidance(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    text = str(item.get("advice") or item.get("text") or item.get("factor", ""))
    source = item.get("source")
    return f"{text} ({source})" if source else text
