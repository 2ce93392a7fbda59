"""The metrics file and model card of a cohort model, and the report of an external
validation: generated from the run, so their numbers cannot drift from the model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from stroke_risk.training.model_store import jsonable
from stroke_risk.training.survival import CohortTrainingResult


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _ci(pair: list[float] | None, digits: int = 2) -> str:
    return "n/a" if not pair else f"{_f(pair[0], digits)}–{_f(pair[1], digits)}"


def _measures_table(measures: dict[str, Any]) -> list[str]:
    calibration = measures.get("calibration", {})
    return [
        "| measure | value |",
        "|---|---|",
        f"| patients / strokes within the horizon | {measures['patients']:,} / "
        f"{measures['strokes_by_horizon']:,} |",
        f"| deaths before a stroke within the horizon | {measures['deaths_by_horizon']:,} |",
        f"| Harrell's C (truncated at the horizon) | {_f(measures['harrell_c'])} |",
        f"| Uno's C (truncated at the horizon) | {_f(measures['uno_c'])} |",
        f"| time-dependent AUC at the horizon | {_f(measures['auc_at_horizon'])} |",
        f"| observed risk (Aalen-Johansen) | {_f(measures['observed_risk'], 4)} "
        f"(95% CI {_ci(measures['observed_risk_ci95'], 4)}) |",
        f"| mean predicted risk | {_f(measures['expected_risk'], 4)} |",
        f"| O/E | {_f(measures['observed_expected'], 2)} "
        f"(95% CI {_ci(measures['observed_expected_ci95'])}) |",
        f"| calibration slope | {_f(calibration.get('slope'), 2)} |",
        f"| calibration intercept (slope 1) | {_f(calibration.get('intercept_slope_1'), 2)} |",
        f"| integrated calibration index | "
        f"{_f(calibration.get('integrated_calibration_index'), 4)} |",
        f"| Brier score at the horizon | {_f(measures['brier_at_horizon'], 4)} |",
    ]


def _net_benefit_table(rows: list[dict[str, float]]) -> list[str]:
    lines = [
        "| threshold | treated | net benefit | treat all |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['threshold']:.1%} | {row['treated_share']:.1%} | "
            f"{row['net_benefit']:.4f} | {row['treat_all']:.4f} |"
        )
    return lines


def _subgroup_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| grouping | group | patients | strokes | O/E (95% CI) | Harrell's C |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['grouping']} | {row['group']} | {row['patients']:,} | "
            f"{row['strokes_by_horizon']:,} | {_f(row['observed_expected'], 2)} "
            f"({_ci(row['observed_expected_ci95'])}) | {_f(row.get('harrell_c'))} |"
        )
    return lines


def tripod_ai_answers(result: CohortTrainingResult) -> list[tuple[str, str, str]]:
    """TRIPOD+AI (Collins et al., BMJ 2024) answered for a cohort model: (item, topic,
    where this card answers it, or what the data team must add)."""
    horizon = f"{result.horizon_years:g}"
    cohort = result.cohort
    dates = (
        f"index dates {cohort.get('first_index_date')} to {cohort.get('last_index_date')}"
        if cohort.get("first_index_date")
        else "**to add**: the cohort file has no index_date column"
    )
    return [
        ("1", "Title", f"this card's title: a {horizon}-year risk of a first stroke"),
        ("3b", "Target population, intended use", '"Intended use" (adults 18+)'),
        ("5a", "Data sources", f'"Data": cohort {cohort.get("source")}, sha256 recorded'),
        ("5b", "Dates of accrual and follow-up", f'"Data": {dates}; median follow-up'),
        ("6a-c", "Setting, eligibility, treatments", "**to add** by the data team"),
        (
            "8a",
            "Outcome and horizon",
            f"first stroke within {horizon} years of the index date; deaths compete",
        ),
        ("8b-c", "Outcome assessment", "**to add**: how strokes were ascertained (codes)"),
        ("9a-b", "Predictors", "the ten schema fields as measured at the index date"),
        ("10", "Sample size", '"Validation": strokes within the horizon against guidance'),
        ("11", "Missing data", "blank BMI: hot-deck in training, median when scoring"),
        (
            "12c",
            "Model type, selection, internal validation",
            '"Method" (families by cross-validated Uno\'s C, one-SE rule) and '
            '"Validation" (bootstrap optimism)',
        ),
        ("12d", "Heterogeneity across centres", '"Subgroups" (grouping columns if present)'),
        ("12e", "Performance measures", '"Validation", "Net benefit at the horizon"'),
        ("12f", "Updating", '"Lineage" (closed test) when the model is an update'),
        ("14", "Fairness", '"Subgroups" by sex and age band; others **to add** if recorded'),
        ("16", "Development vs evaluation data", "`make validate-external` reports"),
        ("22", "Model specification", "the stored model and its lean copy (model store)"),
        ("23", "Performance with CIs, subgroups", '"Validation", "Subgroups"'),
        ("24", "Updating results", '"Lineage" and the update\'s own validation'),
        ("26", "Limitations", '"Competing risks and limits"'),
    ]


def model_card(result: CohortTrainingResult, tag: str, validation: dict[str, Any] | None) -> str:
    """The cohort model's card, in Markdown."""
    horizon = f"{result.horizon_years:g}"
    cohort = result.cohort
    families = result.selection.get("families")
    compared = f"{json.dumps(jsonable(families))}; " if families else ""
    lines = [
        f"# Model card: {horizon}-year risk of a first stroke ({tag})",
        "",
        "## Intended use",
        "",
        f"The chance that an adult (18 or over) has a first stroke within {horizon} years, "
        "as estimated from the cohort below. Decision support, not a diagnosis. "
        f"Validation status: **{result.outcome.validation}**"
        + (
            " (validated only on its own development data: validate it on another site "
            "before relying on it)"
            if result.outcome.validation == "internal"
            else ""
        )
        + ".",
        "",
        "## Data",
        "",
        f"- cohort: {cohort.get('source')} (sha256 `{cohort.get('sha256')}`)",
        f"- patients: {cohort.get('patients'):,}; strokes during follow-up: "
        f"{cohort.get('strokes'):,}; deaths before a stroke: "
        f"{cohort.get('deaths', 'not recorded')}",
        f"- median follow-up: {cohort.get('median_followup_years', float('nan')):.1f} years",
        f"- index dates: {cohort.get('first_index_date', 'not recorded')} to "
        f"{cohort.get('last_index_date', 'not recorded')}",
        "",
        "## Method",
        "",
        f"Family: **{result.family}** ({compared}rule: {result.selection.get('rule')}). "
        f"Calibrated at {horizon} years to the "
        "cumulative incidence (censoring-weighted logistic on the linear predictor). "
        f"Interval refits: {result.intervals.size if result.intervals else 0}. Lean copy's "
        f"largest difference from the reference model: {result.lean_max_difference:.1e}.",
    ]
    if result.lineage:
        test = result.lineage.get("closed_test", {})
        lines += [
            "",
            "## Lineage",
            "",
            f"- parent: `{result.lineage.get('parent_tag')}`",
            f"- method: **{result.lineage.get('method')}** (closed testing procedure, "
            "Vergouwe et al. 2017)",
            f"- intercept {_f(test.get('intercept'))}, slope {_f(test.get('slope'))}",
            f"- updating cohort: {cohort.get('source')} (sha256 `{cohort.get('sha256')}`), "
            f"index dates {cohort.get('first_index_date')} to {cohort.get('last_index_date')}",
        ]
        for row in test.get("tests", []):
            lines.append(
                f"- revision against {row['revision_against']}: LR {row['statistic']:.1f} on "
                f"{row['df']} df, p = {row['p_value']:.3g}"
            )
    if validation is not None:
        if "validation" in validation:
            v = validation["validation"]
            measures = v["apparent"]
            corrected = v["corrected"]
            lines += [
                "",
                "## Validation",
                "",
                f"Internal: {v['method']}.",
                "",
                *_measures_table(measures),
                "",
                "Optimism-corrected: "
                + ", ".join(f"{key} {_f(value)}" for key, value in corrected.items()),
                "",
                validation["sample_size"]["verdict"],
            ]
            subgroups = validation.get("subgroups", [])
            instability = validation.get("instability")
        else:
            measures = validation["measures"]
            lines += ["", "## Validation", "", f"{validation['kind']}.", ""]
            lines += _measures_table(measures)
            subgroups, instability = [], None
        if "net_benefit" in measures:
            lines += [
                "",
                "## Net benefit at the horizon",
                "",
                *_net_benefit_table(measures["net_benefit"]),
            ]
        if subgroups:
            lines += ["", "## Subgroups", "", *_subgroup_table(subgroups)]
        if instability:
            lines += [
                "",
                "## Prediction instability",
                "",
                f"Across {instability['refits']} bootstrap refits: mean absolute prediction "
                f"error {instability['mean_absolute_prediction_error']:.4f}; median width "
                f"of a patient's 95% interval {instability['interval_width_median']:.4f}.",
            ]
        if "competing_risks" in validation:
            lines += ["", "## Competing risks and limits", "", validation["competing_risks"]]
    lines += [
        "",
        "## TRIPOD+AI",
        "",
        "| item | topic | where / what to add |",
        "|---|---|---|",
        *(f"| {item} | {topic} | {answer} |" for item, topic, answer in tripod_ai_answers(result)),
        "",
    ]
    return "\n".join(lines)


def write_cohort_reports(
    result: CohortTrainingResult, tag: str, validation: dict[str, Any] | None, output_dir: Path
) -> list[Path]:
    """``metrics.json`` and ``model_card.md`` for a cohort model (or an update)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"model_tag": tag, **result.metadata(), **(validation or {})}
    paths = [output_dir / "metrics.json", output_dir / "model_card.md"]
    paths[0].write_text(json.dumps(jsonable(metrics), indent=2) + "\n")
    paths[1].write_text(model_card(result, tag, validation))
    return paths


def write_external_report(report: dict[str, Any], output_dir: Path) -> list[Path]:
    """``external_validation.json`` and ``external_validation.md`` for one model and cohort."""
    output_dir.mkdir(parents=True, exist_ok=True)
    measures = report["external_validation"]
    development = report.get("development") or {}
    lines = [
        f"# External validation of {report['model_tag']} on {report['cohort']['source']}",
        "",
        report["sample_size"]["verdict"],
        "",
        *_measures_table(measures),
        "",
        "Miscalibrated in the large (O/E interval excludes 1): "
        + ("**yes**" if report["miscalibrated_in_the_large"] else "no"),
    ]
    if development:
        apparent = development.get("apparent", {})
        corrected = development.get("corrected") or {}
        lines += [
            "",
            "## Beside the development figures",
            "",
            "| measure | development (optimism-corrected) | this cohort |",
            "|---|---|---|",
            f"| Harrell's C | {_f(corrected.get('harrell_c'))} | {_f(measures['harrell_c'])} |",
            f"| Uno's C | {_f(corrected.get('uno_c'))} | {_f(measures['uno_c'])} |",
            f"| AUC at the horizon | {_f(corrected.get('auc_at_horizon'))} | "
            f"{_f(measures['auc_at_horizon'])} |",
            f"| O/E | {_f(corrected.get('observed_expected'), 2)} | "
            f"{_f(measures['observed_expected'], 2)} |",
            f"| calibration slope | {_f(corrected.get('slope'), 2)} | "
            f"{_f(measures['calibration']['slope'], 2)} |",
            f"| observed risk | {_f(apparent.get('observed_risk'), 4)} | "
            f"{_f(measures['observed_risk'], 4)} |",
        ]
    lines += ["", "## Net benefit at the horizon", "", *_net_benefit_table(measures["net_benefit"])]
    lines += ["", "## Subgroups", "", *_subgroup_table(report["subgroups"]), ""]
    paths = [output_dir / "external_validation.json", output_dir / "external_validation.md"]
    paths[0].write_text(json.dumps(jsonable(report), indent=2) + "\n")
    paths[1].write_text("\n".join(lines))
    return paths
