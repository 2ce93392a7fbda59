"""The metrics file, model card and plots, generated from a training run.

Generated rather than written, so the numbers in the model card can never drift from the
model in the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from stroke_risk.core.schema import TARGET  # noqa: E402
from stroke_risk.training.model_store import training_metadata  # noqa: E402
from stroke_risk.training.train import TrainingResult  # noqa: E402


def write_reports(result: TrainingResult, output_dir: Path, model_tag: str) -> list[Path]:
    """Write metrics.json, model_card.md, roc.png and calibration.png; return their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    metadata = training_metadata(result)
    metadata["model_tag"] = model_tag
    metadata["test_subgroups"] = result.test_subgroups
    metadata.pop("feature_schema")
    paths = [output_dir / "metrics.json", output_dir / "model_card.md"]
    paths[0].write_text(json.dumps(metadata, indent=2) + "\n")
    paths[1].write_text(model_card(result, model_tag))
    if result.test_frame is not None and result.test_probabilities is not None:
        y = result.test_frame[TARGET].to_numpy()
        paths += _plots(y, result.test_probabilities, output_dir)
    return paths


def _plots(y: np.ndarray, p: np.ndarray, output_dir: Path) -> list[Path]:
    roc_path, calibration_path = output_dir / "roc.png", output_dir / "calibration.png"
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label="calibrated winner")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, held-out test split")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(roc_path, dpi=100)
    plt.close(fig)

    observed, predicted = calibration_curve(y, p, n_bins=8, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    top = max(predicted.max(), observed.max()) * 1.1
    ax.plot([0, top], [0, top], linestyle=":", color="grey", label="perfect calibration")
    ax.plot(predicted, observed, marker="o", label="calibrated winner")
    ax.set(
        xlabel="mean predicted risk",
        ylabel="observed stroke rate",
        title="Calibration, held-out test split (8 quantile bins)",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(calibration_path, dpi=100)
    plt.close(fig)
    return [roc_path, calibration_path]


def _ci(result: TrainingResult, name: str, digits: int = 3) -> str:
    value = result.test_metrics[name]
    if name in result.test_ci:
        low, high = result.test_ci[name]
        return f"{value:.{digits}f} (95% CI {low:.{digits}f} to {high:.{digits}f})"
    return f"{value:.{digits}f}"


def _weak_spots(result: TrainingResult) -> str:
    """Subgroups with enough strokes to judge where calibration or ranking is poor."""
    lines = []
    for g in result.test_subgroups:
        if g["strokes"] < 10:
            continue
        ratio = g["observed_rate"] / g["mean_predicted"] if g["mean_predicted"] else 0.0
        if abs(ratio - 1) > 0.25:
            word = "under" if ratio > 1 else "over"
            lines.append(
                f"- {g['group']} {g['value']}: observed {g['observed_rate']:.3f} against "
                f"{g['mean_predicted']:.3f} predicted ({word}-estimates, {g['strokes']} strokes)."
            )
        if g["roc_auc"] is not None and g["roc_auc"] < 0.7:
            lines.append(
                f"- {g['group']} {g['value']}: ROC AUC {g['roc_auc']:.2f} within the group: "
                "little ranking beyond what the group itself says."
            )
    if not lines:
        return ""
    return (
        "Where it is weaker (groups with at least 10 strokes in the test split; small numbers,"
        " so read as signals, not findings):\n" + "\n".join(lines) + "\n"
    )


def model_card(result: TrainingResult, model_tag: str) -> str:
    """A short model card in Markdown."""
    rows = "\n".join(
        f"| {c.name} | {c.cv_auc_mean:.4f} ± {c.cv_auc_std:.4f} | {c.out_of_fold['pr_auc']:.3f} "
        f"| {c.out_of_fold['brier']:.4f} | {c.out_of_fold['calibration_slope']:.2f} "
        f"| {c.out_of_fold['calibration_intercept']:.2f} "
        f"| {c.out_of_fold['observed_expected']:.2f} | {c.best_params} |"
        for c in result.candidates
    )
    groups = "\n".join(
        f"| {g['group']} | {g['value']} | {g['patients']} | {g['strokes']} "
        f"| {g['observed_rate']:.3f} | {g['mean_predicted']:.3f} | "
        + (f"{g['roc_auc']:.3f}" if g["roc_auc"] is not None else "n/a (no strokes)")
        + " |"
        for g in result.test_subgroups
    )
    t = result.test_metrics
    u = result.test_uncalibrated
    quick = "\n> **Quick run** (`--quick`): small search, for tests only.\n" if result.quick else ""
    return f"""# Model card: {model_tag}
{quick}
## Intended use
Decision support for GPs and clinics: an estimate of how likely a patient is to have had a
stroke, given their age, sex, blood pressure, heart disease, glucose, BMI, smoking and
social factors, with the factors that drive it and what changing a modifiable factor is
associated with. **Not a diagnosis** and not a validated prediction of a future stroke.

## Data
The public Kaggle "Stroke Prediction Dataset" (5,110 patients, 249 with a stroke; sha256
`{result.data_sha256}`). Its page says *use only for educational purposes*. Its provenance
is not documented. It is **cross-sectional**: the label `stroke` records a stroke history,
not a stroke that happened after the measurements, so the model estimates "has had a
stroke", not a validated future risk, and its what-ifs are associations, not effects.

Quirks and how they are handled:
- `bmi` is missing in 201 rows. It is imputed inside the pipeline, fitted on the training
  folds only, **without a missing-value indicator**: the stroke rate is 19.9% among rows
  with missing BMI against 4.3% otherwise, an artifact of data collection, and an
  indicator would make every patient whose BMI is not entered look high-risk. Nor do the
  blank training rows all get one value (the trees would learn that value as "not
  recorded"): each gets a BMI drawn at random from the observed ones. A patient scored
  with a blank BMI gets the training median, and the service says so in a warning.
- `gender` has one `Other` row; it is kept (the schema allows the value), and the service
  warns that the estimate rests on the other factors.
- `smoking_status` is `Unknown` in 1,544 rows; kept as its own category. The other three
  are coded as a ladder (formerly smoked or above; smokes or above), constrained like the
  risk factors below, so that never <= formerly <= currently smoking in every model: on
  some training splits the unconstrained models put former smokers (older, here) above
  current ones, and "stop smoking" would have read as raising the risk.
- `work_type` includes `children`; ages run from 0.08 to 82 and the service warns when an
  input lies outside the training range.

## Method
A stratified split: {result.n_train} training and {result.n_test} held-out test patients (seed
{result.seed}). Three scikit-learn pipelines (BMI imputation as described above, scaling,
categories one-hot or, for smoking, as a ladder) with a decision tree, a logistic
regression and XGBoost (depth-one trees, so the model is additive and each factor's effect
is exact and plottable) were grid-searched and compared by mean ROC AUC over repeated
stratified cross-validation ({result.candidates[0].cv_folds} folds) **on the training
split only**. Age, glucose, BMI, hypertension, heart disease and the smoking ladder's
steps are constrained to never lower the risk in every family: monotone constraints in
the trees; in logistic regression a coefficient that would come out negative is held at
zero (on some training splits it gives BMI, or heart disease, a protective sign). No
class weights. The winner, **{result.winner}**, was calibrated with Platt scaling on
out-of-fold scores and evaluated once on the test split.

| candidate | CV ROC AUC (mean ± sd) | PR AUC | Brier | slope | intercept | O/E | parameters |
|---|---|---|---|---|---|---|---|
{rows}

PR AUC, Brier, calibration slope/intercept and O/E above are from 5-fold out-of-fold
predictions on the training split, before calibration.

## Performance on the held-out test split ({result.n_test} patients)
- ROC AUC {_ci(result, "roc_auc")}
- PR AUC {_ci(result, "pr_auc")} (base rate {t["observed_rate"]:.3f})
- Brier score {_ci(result, "brier", 4)} (predicting the base rate for everyone scores about
  {t["observed_rate"] * (1 - t["observed_rate"]):.4f})
- Observed/expected {_ci(result, "observed_expected", 2)}; mean predicted risk
  {t["mean_predicted"]:.4f} against an observed rate of {t["observed_rate"]:.4f}
- Calibration slope {t["calibration_slope"]:.2f}, intercept {t["calibration_intercept"]:.2f}
  (before calibration: Brier {u["brier"]:.4f}, O/E {u["observed_expected"]:.2f})

With about {round(t["observed_rate"] * result.n_test)} strokes in the test split, these
intervals are wide: a test AUC moves by several points from one split to the next, which
is why the model was chosen by cross-validation.

![ROC](roc.png) ![Calibration](calibration.png)

## Performance by sex and age band (test split)
| group | value | patients | strokes | observed | mean predicted | ROC AUC |
|---|---|---|---|---|---|---|
{groups}

{_weak_spots(result)}
## Limitations
- Educational data set of unknown provenance; not validated on any clinical population.
- Cross-sectional label (stroke history), so not a prospective risk; factors such as
  glucose or BMI may have changed *after* a stroke.
- Few strokes under 40 years old: estimates for young patients rest on very few events.
- No ethnicity, cholesterol, atrial fibrillation, medication or family history, all of
  which matter clinically; validated tools (e.g. QRISK3, CHA₂DS₂-VASc) should take
  precedence where they apply.
- What-ifs compare otherwise similar patients; they are not the effect of an intervention.
"""
