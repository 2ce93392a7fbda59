"""The model card the service serves for the model it has loaded: JSON and a human page.

Its sections are the source attributes the ONC HTI-1 rule lists for a predictive decision
support intervention (45 CFR 170.315(b)(11)(iv)(B)), each filled from what was stored with
the model: the training metadata (test figures, the outcome record, the development data's
hash and size), the training profile (the adults' make-up: sex, age bands, work, residence,
smoking) and, when the model was trained by `make validate`, the validation summary saved
beside them (the custom object :data:`MODEL_CARD_KEY`). Nothing here fits or evaluates a model, so
the service renders the card without any training library; a model saved before the
validation summary existed says so in the sections it would fill.
"""

from __future__ import annotations

import html
from typing import Any

from stroke_risk.core.outcome import ModelOutcome

MODEL_CARD_KEY = "model_card"  # the custom object saved with the model at training
MODEL_CARD_PATH = "/model-card"
MODEL_CARD_JSON_PATH = "/model-card.json"

# The nine source-attribute headings of HTI-1 for predictive DSIs, in the rule's order.
HTI1_HEADINGS: dict[str, str] = {
    "details_and_output": "Details and output of the intervention",
    "purpose": "Purpose of the intervention",
    "cautioned_out_of_scope_use": "Cautioned out-of-scope use of the intervention",
    "development_details_and_input_features": (
        "Intervention development details and input features"
    ),
    "fairness_process": "Process used to ensure fairness in development of the intervention",
    "external_validation_process": "External validation process",
    "quantitative_performance": "Quantitative measures of performance",
    "ongoing_maintenance": "Ongoing maintenance of intervention implementation and use",
    "update_schedule": "Update and continued validation or fairness assessment schedule",
}
NOT_RECORDED = "not recorded with this model (train it with `make validate` to record it)"
INPUT_FEATURES = (
    "age, sex, hypertension, heart disease, ever married, work type, residence type, "
    "average glucose (mg/dL), BMI (kg/m²), smoking status"
)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def development_demographics(profile: dict[str, Any]) -> dict[str, Any]:
    """The adults the model was developed on, from the stored training profile: counts and
    shares by sex, age band, work, residence and smoking, and strokes per age band."""
    counts: dict[str, dict[str, int]] = profile.get("category_counts", {})
    peers: dict[str, dict[str, Any]] = profile.get("peers", {})
    bands = {key.split("|", 1)[1]: value for key, value in peers.items() if key.startswith("all|")}
    total = sum(int(group.get("patients", 0)) for group in bands.values())
    by_category = {
        name: {value: {"patients": n, "share": _share(n, total)} for value, n in values.items()}
        for name, values in counts.items()
    }
    by_age_band = {
        band: {
            "patients": int(group.get("patients", 0)),
            "strokes": int(group.get("strokes", 0)),
            "share": _share(int(group.get("patients", 0)), total),
        }
        for band, group in sorted(bands.items())
    }
    return {
        "population": "adults (18 and over) of the development data",
        "patients": total,
        "strokes": sum(group["strokes"] for group in by_age_band.values()),
        "by_age_band": by_age_band,
        **by_category,
        "not_recorded_in_the_data": ["race", "ethnicity", "language", "deprivation"],
        "ranges": profile.get("ranges", {}),
    }


def served_model_card(
    tag: str,
    metadata: dict[str, Any],
    profile: dict[str, Any],
    outcome: ModelOutcome,
    recorded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card as a JSON-ready dict: the loaded tag, the outcome record, and one section
    per HTI-1 heading (``source_attributes[key] = {"heading": ..., ...}``). ``recorded`` is
    the validation summary saved with the model (None for a model saved without one)."""
    recorded = recorded or {}
    validation: dict[str, Any] | None = recorded.get("validation")
    test = metadata.get("test_metrics", {})
    sections: dict[str, dict[str, Any]] = {
        "details_and_output": {
            "developer": "The stroke-risk open-source project (see its repository)",
            "funding_source": "None: an open-source project",
            "output": outcome.label,
            "output_description": outcome.probability_description,
            "output_type": "prediction (a calibrated probability with a 95% interval, a band, "
            "drivers and what-ifs)",
        },
        "purpose": {
            "intended_use": f"Decision support: {outcome.label}, with its drivers, to inform "
            "a conversation between a GP and an adult patient. Not a diagnosis.",
            "intended_patient_population": "Adults (18 and over) without a recorded stroke",
            "intended_users": "GPs and clinic staff; a printed handout for the patient",
            "decision_making_role": "informs (never replaces) clinical management",
        },
        "cautioned_out_of_scope_use": {
            "do_not_use_for": [
                "children (every channel refuses under-18s)",
                *(
                    []
                    if outcome.is_prospective
                    else ["forecasting a future stroke: " + outcome.not_prospective]
                ),
                "diagnosing a stroke or deciding treatment on this number alone",
                "values beyond the development data's ranges (see development details)",
            ],
            "known_limitations": [
                f"Development data: {outcome.data_source}",
                "Validation: " + outcome.validation,
                "Ranks patients poorly within an age band; age carries most of the signal",
                "No ethnicity, deprivation, cholesterol, atrial fibrillation or medication",
            ],
        },
        "development_details_and_input_features": {
            "data_source": outcome.data_source,
            "data_sha256": metadata.get("data_sha256"),
            "rows": metadata.get("n_development"),
            "inclusion_exclusion": "All rows of the data set; scored for adults only",
            "input_features": INPUT_FEATURES,
            "uses_race_or_ethnicity": False,
            "uses_sex": True,
            "uses_date_of_birth": "age in years",
            "uses_social_determinants": "work type, residence type, ever married",
            "model_family": metadata.get("winner"),
            "calibration": metadata.get("calibration"),
            "demographics": development_demographics(profile),
        },
        "fairness_process": {
            "process": "Performance reported by sex, age band, residence, work type and BMI "
            "recorded or blank (fairlearn MetricFrame, bootstrap intervals); no input is "
            "race or ethnicity, which the data do not hold.",
            "subgroups": recorded.get("subgroups")
            or metadata.get("test_subgroups")
            or NOT_RECORDED,
        },
        "external_validation_process": {
            "status": outcome.validation,
            "description": "Validated on patients from elsewhere"
            if outcome.validation == "external"
            else "None: only internal validation (bootstrap optimism correction and "
            "repeated cross-validation on the development data).",
        },
        "quantitative_performance": {
            "internal_validation": validation or NOT_RECORDED,
            "held_out_test_split": {
                "patients": metadata.get("n_test"),
                "metrics": test,
                "ci95": metadata.get("test_ci95"),
            },
        },
        "ongoing_maintenance": {
            "monitoring": "Each reply names the model tag (X-Model-Version and model_tag); "
            "CDS card feedback is counted in /metrics. No drift monitoring of inputs.",
            "versions": metadata.get("versions"),
        },
        "update_schedule": {
            "schedule": "None fixed: retrain and revalidate (`make validate`) when the data "
            "or code change; every model is a new tag with its own card.",
        },
    }
    for key, heading in HTI1_HEADINGS.items():
        sections[key] = {"heading": heading, **sections[key]}
    return {
        "model_tag": tag,
        "outcome": outcome.model_dump(),
        "source_attributes": sections,
    }


def _html_value(value: Any) -> str:
    if isinstance(value, dict):
        rows = "".join(
            f"<tr><th scope='row'>{html.escape(str(k).replace('_', ' '))}</th>"
            f"<td>{_html_value(v)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_html_value(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape("" if value is None else str(value))


def model_card_html(card: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (no scripts, no external files)."""
    tag = html.escape(card["model_tag"])
    label = html.escape(card["outcome"]["label"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Model card: {tag}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:auto;padding:1rem}"
        "th{text-align:left;vertical-align:top;padding-right:1rem}</style>",
        "</head><body>",
        f"<h1>Model card: {tag}</h1>",
        f"<p><strong>What the number is:</strong> {label}.</p>",
        f'<p><a href="{MODEL_CARD_JSON_PATH.lstrip("/")}">This card as JSON</a></p>',
    ]
    for section in card["source_attributes"].values():
        body = {k: v for k, v in section.items() if k != "heading"}
        parts.append(f"<h2>{html.escape(section['heading'])}</h2>{_html_value(body)}")
    parts.append("</body></html>")
    return "\n".join(parts)
