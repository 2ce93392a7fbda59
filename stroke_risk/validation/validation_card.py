"""The model card's validation sections, written from `make validate`'s results.

Every number here is read from the dict :func:`stroke_risk.validation.validate.validate`
returns (also written to ``reports/metrics.json``), so the card cannot drift from it. The
TRIPOD+AI checklist (docs/tripod-ai.md) points at these sections.
"""

from __future__ import annotations

from typing import Any

NET_BENEFIT_SHOWN = (0.02, 0.05, 0.10, 0.15, 0.20, 0.30)


def _ci(low: float, high: float, digits: int = 3) -> str:
    return f"{low:.{digits}f} to {high:.{digits}f}"


def _excludes_zero(ci: list[float]) -> bool:
    return ci[0] > 0 or ci[1] < 0


def headline(validation: dict[str, Any]) -> str:
    """The first screen: how good it is for the adults it scores, how much better than age
    alone among them, and the all-rows and children's figures apart."""
    corrected = validation["validation"]["optimism_corrected"]["metrics"]
    auc, brier = corrected["roc_auc"], corrected["brier"]
    adults = validation["intended_population"]
    adult_metrics = adults["repeated_cv_out_of_fold"]
    # The adults' own paired comparison when present; the all-rows one otherwise (older runs).
    age = (
        adults.get("model_minus_age_only")
        or validation["benchmarks"]["age_only"]["model_minus_benchmark"]
    )
    nb = age["net_benefit"]
    nb_any = [row for row in nb if _excludes_zero(row["ci"])]
    nb_text = (
        "no difference in net benefit at any threshold from 2% to 15% (every 95% CI includes 0)"
        if not nb_any
        else "a net-benefit difference at "
        + ", ".join(f"{100 * row['threshold']:g}%" for row in nb_any)
    )
    clearly = _excludes_zero(age["roc_auc"]["ci"]) and _excludes_zero(age["brier"]["ci"])
    verdict = (
        "The model is clearly better than age alone on every measure."
        if clearly and nb_any
        else "**The model is not clearly better than age alone.** Age carries most of what "
        "this data set can say; read the drivers and what-ifs as descriptions of these data, "
        "not as proven causes."
    )
    children = validation.get("children")
    children_text = (
        f"\n- Children (under 18, never scored): {children['patients']:,} patients with "
        f"{children['strokes']} strokes in the development data, too few to judge the model "
        "there; they are kept in training and left out of every figure above."
        if children
        else ""
    )
    return f"""**Performance at a glance**, for the adults every channel scores (`make validate`):
- Among adults ({adults["patients"]:,} patients, {adults["strokes"]} strokes), repeated-CV ROC
  AUC **{adult_metrics["roc_auc"]:.3f}**, Brier {adult_metrics["brier"]:.4f}, calibration slope
  {adult_metrics["calibration_slope"]:.2f}, O/E {adult_metrics["observed_expected"]:.2f}; an
  age-only model scores {adults["age_only_roc_auc"]:.3f} on the same adults.
- Against an age-only model among adults: AUC {age["roc_auc"]["difference"]:+.4f} (95% CI
  {_ci(*age["roc_auc"]["ci"], 4)}), Brier {age["brier"]["difference"]:+.5f}
  ({_ci(*age["brier"]["ci"], 5)}), and {nb_text}.
- All {validation["validation"]["patients"]:,} development rows, children included (which
  flatters it: their strokes are few and easy to rank last): ROC AUC {auc["corrected"]:.3f}
  after bootstrap optimism correction (apparent {auc["apparent"]:.3f}); Brier
  {brier["corrected"]:.4f}.{children_text}

{verdict}
"""


def _benchmarks(validation: dict[str, Any]) -> str:
    rows = []
    for name, label in (("age_only", "age only"), ("age_sex", "age + sex")):
        b = validation["benchmarks"][name]["model_minus_benchmark"]
        nb = {round(row["threshold"], 2): row for row in b["net_benefit"]}
        cells = " | ".join(
            f"{nb[t]['difference']:+.4f} ({_ci(*nb[t]['ci'], 4)})" for t in sorted(nb)
        )
        rows.append(
            f"| {label} | {b['roc_auc']['benchmark']:.4f} | {b['roc_auc']['difference']:+.4f} "
            f"({_ci(*b['roc_auc']['ci'], 4)}) | {b['brier']['difference']:+.5f} "
            f"({_ci(*b['brier']['ci'], 5)}) | {cells} |"
        )
    thresholds = sorted(
        round(row["threshold"], 2)
        for row in validation["benchmarks"]["age_only"]["model_minus_benchmark"]["net_benefit"]
    )
    header = " | ".join(f"net benefit at {100 * t:g}%" for t in thresholds)
    return (
        f"| benchmark | its AUC | AUC, model − benchmark | Brier, model − benchmark | {header} |\n"
        + "|---" * (4 + len(thresholds))
        + "|\n"
        + "\n".join(rows)
    )


def _decision_curve(validation: dict[str, Any]) -> str:
    curve = validation["decision_curve"]
    index = {round(t, 2): i for i, t in enumerate(curve["threshold"])}
    rows = []
    for t in NET_BENEFIT_SHOWN:
        i = index.get(round(t, 2))
        if i is None:
            continue
        band = _ci(curve["model_low"][i], curve["model_high"][i], 4)
        rows.append(
            f"| {100 * t:g}% | {curve['model'][i]:.4f} ({band}) "
            f"| {curve['treat_all'][i]:.4f} | {curve['age_only'][i]:.4f} "
            f"| {100 * curve['treated_share'][i]:.1f}% |"
        )
    return (
        "| threshold | model (95% band) | treat all | age only | patients above it |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows)
    )


def _subgroups(validation: dict[str, Any]) -> str:
    """The adults' table when present (the population scored), else all rows'."""
    rows = []
    adults = validation.get("intended_population", {})
    for g in adults.get("subgroups") or validation["subgroups"]:
        auc = (
            f"{g['roc_auc']:.2f} ({_ci(*g['roc_auc_ci'], 2)})"
            if g.get("roc_auc") is not None and g.get("roc_auc_ci")
            else "n/a"
        )
        oe = (
            f"{g['observed_expected']:.2f} ({_ci(*g['observed_expected_ci'], 2)})"
            if g.get("observed_expected") is not None and g.get("observed_expected_ci")
            else "n/a"
        )
        slope = f"{g['calibration_slope']:.2f}" if g.get("calibration_slope") is not None else "—"
        note = g.get("note") or ""
        rows.append(
            f"| {g['grouping']} | {g['group']} | {g['patients']:,} | {g['strokes']} | {auc} "
            f"| {oe} | {slope} | {note} |"
        )
    return (
        "| grouping | group | patients | strokes | ROC AUC (95% CI) | O/E (95% CI) | slope "
        "| note |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def _what_if_evidence(validation: dict[str, Any]) -> str:
    evidence = validation["what_if_evidence"]
    model = {
        (factor, row["contrast"]): row["odds_ratio_median"]
        for factor, rows in evidence.get("model_odds_ratios", {}).items()
        for row in rows
    }
    lines = []
    for factor, rows in evidence["odds_ratios"].items():
        for row in rows:
            model_or = model.get((factor, row["contrast"]))
            lines.append(
                f"| {factor}: {row['contrast']} | {row['adjusted_for']} "
                f"| {row['odds_ratio']:.2f} ({_ci(*row['ci'], 2)}) "
                f"| {'—' if model_or is None else f'{model_or:.2f}'} |"
            )
    rates = ", ".join(
        f"{row['smoking_status']} {100 * row['stroke_rate']:.1f}% (mean age {row['mean_age']:.0f})"
        for row in evidence.get("crude_stroke_rate_by_smoking", [])
    )
    within = evidence.get("glucose_within_ranges")
    glucose = ""
    if within:
        ranges = "\n".join(
            f"| {row['label']} | {row['patients']:,} | {row['strokes']} "
            f"| {row['odds_ratio']:.2f} ({_ci(*row['ci'], 2)}) "
            f"| {'yes' if row['excludes_no_effect'] else 'no: guideline advice instead'} |"
            for row in within["ranges"]
        )
        gap = within["between_ranges"]
        glucose = (
            f"\n\nGlucose within each range ({within['method']}), per 50 mg/dL:\n\n"
            "| range | adults | strokes | odds ratio (95% CI) | what-if shown |\n"
            "|---|---|---|---|---|\n"
            f"{ranges}\n\n{gap['contrast']}: {gap['odds_ratio']:.2f} "
            f"({_ci(*gap['ci'], 2)}), adjusted for age."
        )
    return (
        "| contrast | adjusted for | odds ratio (95% CI) | this model's odds ratio |\n"
        "|---|---|---|---|\n"
        + "\n".join(lines)
        + f"\n\nCrude stroke rates by smoking: {rates}."
        + glucose
    )


def validation_sections(validation: dict[str, Any]) -> str:
    """Everything after the method: validation, benchmarks, decision curve, subgroups,
    instability, sample size and the evidence behind the what-ifs."""
    v = validation["validation"]
    corrected = v["optimism_corrected"]["metrics"]
    cv = v["repeated_cv"]
    size = validation["sample_size"]
    instability = validation["instability"]
    by_band = instability.get("by_band", {})
    band_lines = "\n".join(
        f"- {band}: {100 * row['unstable_share']:.0f}% of {row['patients']:,} patients change "
        f"band in at least 10% of refits; median 95% range "
        f"{100 * row['median_interval_width']:.1f} points."
        for band, row in by_band.items()
    )
    metrics_rows = "\n".join(
        f"| {name} | {m['apparent']:.4f} | {m['optimism']:+.4f} | {m['corrected']:.4f} |"
        for name, m in corrected.items()
    )
    cv_metrics = cv.get("per_fold", {})
    cv_rows = "\n".join(
        f"| {name} | {m['mean']:.4f} | {m['sd']:.4f} |"
        for name, m in cv_metrics.items()
        if isinstance(m, dict) and "mean" in m
    )
    return f"""## Validation (internal: `make validate`)
The shipped model was developed on all {v["patients"]:,} rows ({v["strokes"]} strokes). Its
performance is estimated by **bootstrap optimism correction** (Harrell; Steyerberg): the
whole procedure (imputation, scaling, model and Platt calibration, with the chosen
hyperparameters held fixed, which slightly understates the optimism) refitted on
{v["optimism_corrected"]["n_boot"]} bootstrap samples; optimism = its performance on its own
sample minus on the original data.

| metric | apparent | optimism | corrected |
|---|---|---|---|
{metrics_rows}

Repeated stratified cross-validation, the second view ({cv.get("n_splits", 5)} folds ×
{cv.get("n_repeats", "?")} repeats; mean and SD over folds):

| metric | mean | SD |
|---|---|---|
{cv_rows}

There is **no external or temporal validation**: the data set has one source, no dates and
no second site. The split-sample test figures further down are a secondary check only.

## Benchmarks: is it better than age alone?
Out-of-fold predictions averaged over the same repeated folds; differences with paired
bootstrap 95% CIs.

{_benchmarks(validation)}

## Decision curve
Net benefit (Vickers) of acting on the model's estimate at each threshold, on the
out-of-fold predictions, with bootstrap 95% bands; treat-none is 0.

{_decision_curve(validation)}

The band edges: at **5%** the model adds net benefit over treating everyone and over no
one, and it flags about a third of patients (a threshold at which preventive review is
commonly offered); the **15%** "high" edge has little decision-analytic support (its net
benefit is small, and above about 16% the lower band crosses zero). So "high" means
"review first", not a treatment threshold. The defaults are kept; providers can set their
own with `STROKE_RISK_BAND_THRESHOLDS`.

## Calibration and subgroups
![Calibration (loess, with 95% band and the predictions' histogram)](calibration_loess.png)

Per subgroup of adults (the population scored), on the out-of-fold predictions, with
bootstrap CIs (resampled within the group); calibration slope only with at least 20
strokes. Where strokes are few the
intervals are too wide to say anything, and the note says so.

{_subgroups(validation)}

What a GP should keep in mind: within an age band the model ranks patients only a little
better than chance (ROC AUC within bands above; each reply in a band under 0.7 carries
these numbers as its `ranking_caveat`), so most of its discrimination is age;
patients with a blank BMI are **under-predicted** (their recorded stroke rate is far above
the model's estimate, an artifact of how the data were collected that the model is
deliberately not allowed to learn); estimates under 40 rest on very few strokes.

## Prediction instability (Riley & Collins 2023)
Over {instability["bootstrap_models"]} bootstrap refits, the mean absolute difference between
a patient's estimate and a refit's is {100 * instability["mean_absolute_prediction_error"]:.2f}
points; **{100 * instability["unstable_band_share"]:.0f}%** of patients change band in at least
10% of refits.
{band_lines}

![Instability](instability.png)

Every reply carries its own interval (`probability_interval`): the 95% range of the shipped
model's refits on bootstrap resamples, settings fixed. It measures **model instability, not
the uncertainty of the patient's risk**, and it is hardly wider where data are thin, so the
reply flags thin data support separately (`data_support`) and says when the interval
crosses a band edge (`interval_crosses_band_edge`).

## Sample size (Riley et al. 2020)
Cox–Snell R² {size["cox_snell_r2"]:.4f} (Nagelkerke {size["nagelkerke_r2"]:.3f}) with
{size["events"]} events in {size["n"]:,} patients supports at most
**{size["max_parameters_criterion_i"]:.1f} candidate parameters** for an expected shrinkage of
{size["shrinkage_target"]}. The logistic regression estimates {size.get("model_parameters", "?")}
(expected shrinkage {size.get("expected_shrinkage_of_model", float("nan")):.3f}); a booster of
hundreds of split points does not fit within it, which is one reason the one-standard-error
rule prefers the logistic regression.

## What-ifs the data can support
A what-if is shown only where an age-adjusted effect *within the patient's own range*
excludes no effect. The label is cross-sectional: "formerly smoked" includes people who
stopped after their stroke.

{_what_if_evidence(validation)}

A glucose range whose interval includes 1 gets no glucose what-if (where neither does, the
overall slope is the gap between the two clusters, a stand-in for diabetes); at 140 mg/dL
and above the reply advises assessing for diabetes (HbA1c), citing the guideline.
Smoking and BMI are not supported either (their CIs include 1, and smoking is open to
reverse causation), so the service gives guideline advice for them, each naming its
guideline and labelled as not from this model, as it does for blood-pressure control.
"""
