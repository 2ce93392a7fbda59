"""The metrics file, model card and plots, generated from a training run.

Generated rather than written, so the numbers in the model card can never drift from the
model in the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from stroke_risk.core.schema import FEATURES, TARGET, Patient  # noqa: E402
from stroke_risk.scoring.lean import LinearScore  # noqa: E402
from stroke_risk.training.model_store import training_metadata  # noqa: E402
from stroke_risk.training.train import TrainingResult  # noqa: E402
from stroke_risk.validation.validation_card import headline, validation_sections  # noqa: E402


def write_reports(
    result: TrainingResult,
    output_dir: Path,
    model_tag: str,
    validation: dict[str, Any] | None = None,
) -> list[Path]:
    """Write metrics.json, model_card.md, roc.png and calibration.png; return their paths.

    With ``validation`` (`make validate`), metrics.json also holds its sections
    (``validation``, ``benchmarks``, ``decision_curve``, ``subgroups``, ...) and the model
    card shows them; without, the card says how to produce them.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    metadata = training_metadata(result)
    metadata["model_tag"] = model_tag
    metadata["test_subgroups"] = result.test_subgroups
    if validation is not None:
        metadata.update(validation)
    metadata.pop("feature_schema")
    paths = [output_dir / "metrics.json", output_dir / "model_card.md"]
    paths[0].write_text(json.dumps(metadata, indent=2) + "\n")
    paths[1].write_text(model_card(result, model_tag, validation))
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


def factors_used(result: TrainingResult) -> tuple[list[str], list[str]]:
    """The fields the shipped model gives weight to, and those it gives none (so the card
    never says "given their sex" of a model whose sex effect is zero)."""
    score = result.lean.score
    if not isinstance(score, LinearScore):
        return list(FEATURES), []
    slices = result.lean.encoder.slices()
    used = [name for name in FEATURES if np.any(score.coef[slices[name]] != 0)]
    return used, [name for name in FEATURES if name not in used]


def model_card(
    result: TrainingResult, model_tag: str, validation: dict[str, Any] | None = None
) -> str:
    """The model card in Markdown: the first screen says how good it is against age alone."""
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
    sel = result.selection
    used, unused = factors_used(result)
    titles = {name: Patient.model_fields[name].title or name for name in FEATURES}
    labels = {name: title if title.isupper() else title.lower() for name, title in titles.items()}
    used_text = ", ".join(labels[name] for name in used)
    unused_text = (
        f" It gives no weight to {', '.join(labels[n] for n in unused)}." if unused else ""
    )
    quick = "\n> **Quick run** (`--quick`): small search, for tests only.\n" if result.quick else ""
    first_screen = (
        headline(validation)
        if validation is not None
        else "> Validation, benchmarks against age alone, decision curves, subgroups and "
        "instability come from `make validate` (about 3 minutes); this card was written by "
        "`make train` alone.\n"
    )
    later = validation_sections(validation) if validation is not None else ""
    return f"""# Model card: {model_tag}
{quick}
{first_screen}
## Intended use
Decision support for GPs and clinics, for **adults (18 and over)**: an estimate of how likely
a patient is to have had a stroke, given the factors the model uses ({used_text}),
with an uncertainty interval, the factors that drive it against a named reference patient,
and what-ifs only where these data can support them.{unused_text} **Not a diagnosis** and
not a validated prediction of a future stroke. Every channel (API, app upload, FHIR) refuses
patients under 18: the data hold 2 strokes among 856 children, and the age effect is flat
below about 38, so a child's score would say nothing.

## Data
The public Kaggle "Stroke Prediction Dataset" (5,110 patients, 249 with a stroke; sha256
`{result.data_sha256}`). Its page says *use only for educational purposes*. Its provenance
is not documented. It is **cross-sectional**: the label `stroke` records a stroke history,
not a stroke that happened after the measurements, so the model estimates "has had a
stroke", not a validated future risk, and its what-ifs are associations, not effects. It
has no ethnicity, deprivation, cholesterol, atrial fibrillation, medication or dates.

Quirks and how they are handled:
- `bmi` is missing in 201 rows. It is imputed inside the pipeline, fitted on the training
  folds only, **without a missing-value indicator**: the stroke rate is 19.9% among rows
  with missing BMI against 4.3% otherwise, an artifact of data collection, and an
  indicator would make every patient whose BMI is not entered look high-risk. Nor do the
  blank training rows all get one value (the trees would learn that value as "not
  recorded"): each gets a BMI drawn at random from the observed ones. A patient scored
  with a blank BMI gets the training median, and the service says so in a warning. The
  price: patients with a blank BMI are under-predicted (see the subgroups).
- `gender` has one `Other` row; it is kept (the schema allows the value), and the service
  warns that the estimate rests on the other factors.
- `smoking_status` is `Unknown` in 1,544 rows; kept as its own category. The other three
  are coded as a ladder (formerly smoked or above; smokes or above), constrained so that
  never <= formerly <= currently smoking in every model.
- Children (856 rows) are kept for training: on adults, a logistic regression trained with
  or without them scores the same out of fold (ROC AUC 0.8137 against 0.8138, difference
  0.0001 ± 0.0007 over 5×3 folds; Brier and O/E equal). The reference patient, peer groups
  and ranges describe adults only. An adult with work type `children` gets a warning.

## Method
Model choice: a stratified split (seed {result.seed}) into {result.n_train} training and
{result.n_test} test patients; three scikit-learn pipelines (a decision tree, a logistic
regression and XGBoost with depth-one trees) grid-searched by repeated stratified CV
({result.candidates[0].cv_folds} folds) **on the training split only**, with age, glucose,
BMI, hypertension, heart disease and the smoking ladder constrained never to lower the risk.
The family is chosen by the **one-standard-error rule**: the simplest family
({" < ".join(sel["simplest_first"])}) whose mean CV ROC AUC is within one standard error
({sel["standard_error"]:.4f}) of the best ({sel["best_by_cv_auc"]}, {sel["best_cv_auc"]:.4f}):
**{result.winner}**.

| candidate | CV ROC AUC (mean ± sd) | PR AUC | Brier | slope | intercept | O/E | parameters |
|---|---|---|---|---|---|---|---|
{rows}

PR AUC, Brier, calibration slope/intercept and O/E above are from 5-fold out-of-fold
predictions on the training split, before calibration.

The shipped model is that family with those hyperparameters **developed on all
{result.n_development:,} rows**, Platt-calibrated on its own out-of-fold scores. Its
{len(result.interval_refits)} bootstrap refits (the same procedure on resampled rows) give
every reply its 95% `probability_interval`. Drivers are exact log-odds shares (Shapley
values) against a named reference patient, the typical adult of the data; they add up to
the patient's log-odds minus the reference's.

{later}
## Secondary check: the held-out test split ({result.n_test} patients)
The same procedure fitted on the training split only and scored once on the test split.
With about {round(t["observed_rate"] * result.n_test)} strokes these figures are too noisy to
validate on (an O/E interval spans about ±25%); they are a check, not the estimate.
- ROC AUC {_ci(result, "roc_auc")}
- PR AUC {_ci(result, "pr_auc")} (base rate {t["observed_rate"]:.3f})
- Brier score {_ci(result, "brier", 4)} (predicting the base rate for everyone scores about
  {t["observed_rate"] * (1 - t["observed_rate"]):.4f})
- Observed/expected {_ci(result, "observed_expected", 2)}; calibration slope
  {t["calibration_slope"]:.2f}, intercept {t["calibration_intercept"]:.2f} (before
  calibration: Brier {u["brier"]:.4f}, O/E {u["observed_expected"]:.2f})

![ROC](roc.png) ![Calibration](calibration.png)

| group | value | patients | strokes | observed | mean predicted | ROC AUC |
|---|---|---|---|---|---|---|
{groups}

## Limitations
- Educational data set of unknown provenance; no external or temporal validation.
- Cross-sectional label (stroke history), so not a prospective risk; glucose, BMI or
  smoking may have changed *after* a stroke.
- Few strokes under 40 years old: estimates for young adults rest on very few events.
- No ethnicity, deprivation, cholesterol, atrial fibrillation, medication or family history,
  all of which matter clinically; validated tools (e.g. QRISK3, CHA₂DS₂-VASc) should take
  precedence where they apply.
- What-ifs compare otherwise similar patients; they are not the effect of an intervention.
- Reporting follows TRIPOD+AI; the checklist is in `docs/tripod-ai.md`.
"""
