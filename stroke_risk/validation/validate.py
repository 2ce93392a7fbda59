"""The whole clinical validation of a fitting procedure, in one call, as one JSON document.

:func:`validate` runs, in this order: bootstrap optimism correction (Harrell) and
repeated cross-validation of the procedure; the same repeated CV (same folds) of each
benchmark and the paired differences; decision curves, subgroup table and loess
calibration curve on the out-of-fold predictions; Riley's sample-size criteria; Riley &
Collins' prediction instability from the optimism bootstrap's models; and the
age-adjusted evidence behind each what-if. Its result goes to ``reports/metrics.json``;
see each module for the reference definitions it follows.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold

from stroke_risk.core.schema import ADULT_AGE, FEATURES, TARGET
from stroke_risk.training.bootstrap_refits import on_coded_rows
from stroke_risk.training.evaluation import risk_metrics
from stroke_risk.training.families import MODEL_STEP, candidates
from stroke_risk.training.features import encode_fixed_columns
from stroke_risk.training.model_store import jsonable
from stroke_risk.validation.benchmarks import BENCHMARK_FITS, BENCHMARK_THRESHOLDS, compare_models
from stroke_risk.validation.calibration_curve import loess_calibration, plot_calibration_curve
from stroke_risk.validation.data_support_evidence import data_support_evidence
from stroke_risk.validation.decision_curves import (
    DEFAULT_THRESHOLDS,
    decision_curve,
    net_benefit_rows,
)
from stroke_risk.validation.instability import (
    DEFAULT_BAND_EDGES,
    plot_instability,
    prediction_instability,
)
from stroke_risk.validation.internal_validation import (
    Fit,
    Predict,
    cv_splits,
    optimism_corrected,
    performance,
    repeated_cv,
)
from stroke_risk.validation.sample_size import riley_max_parameters, sample_size_report
from stroke_risk.validation.subgroups import subgroup_performance
from stroke_risk.validation.what_if_evidence import (
    age_adjusted_odds_ratios,
    crude_rates_by_smoking,
    glucose_within_ranges,
    model_odds_ratios,
    model_odds_ratios_note,
)


def _fit_family(family: str, params: Mapping[str, Any], frame: pd.DataFrame, seed: int) -> Predict:
    candidate = next(c for c in candidates(seed) if c.name == family)
    pipeline = clone(candidate.pipeline).set_params(**params)
    # The categories coded once per call, in numpy, not in every fold (bootstrap_refits.py):
    # the same matrices bit for bit, so the same probabilities, in about half the time.
    model = CalibratedClassifierCV(
        on_coded_rows(pipeline),
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ensemble=False,
    ).fit(encode_fixed_columns(frame), frame[TARGET])

    def predict(rows: pd.DataFrame) -> np.ndarray:
        coded = encode_fixed_columns(rows)
        return model.predict_proba(coded)[:, 1]

    return predict


def family_fit(family: str, **params: Any) -> Fit:
    """A :data:`Fit` for one of training's families with fixed hyperparameters, Platt-
    calibrated on out-of-fold log-odds as training does; e.g.
    ``family_fit("logistic_regression", model__C=0.1)``. Fixed hyperparameters understate
    optimism slightly (the search is not repeated in each bootstrap): say so when quoting.
    """
    if family not in {c.name for c in candidates(0)}:
        raise ValueError(f"unknown model family {family!r}")
    return functools.partial(_fit_family, family, params)


def logistic_regression_parameters(data: pd.DataFrame, seed: int = 0) -> int:
    """Coefficients (intercept included) of training's logistic regression on ``data``:
    the "candidate predictor parameters" of Riley's criteria for that family."""
    candidate = next(c for c in candidates(seed) if c.name == "logistic_regression")
    width = (
        clone(candidate.pipeline[:-1]).fit_transform(data[list(FEATURES)], data[TARGET]).shape[1]
    )
    return int(width) + 1


def per_fold_differences(
    y: np.ndarray,
    model_out_of_fold: np.ndarray,
    benchmark_out_of_fold: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    n_splits: int,
) -> dict[str, dict[str, float]]:
    """Mean and SD over folds of (model - benchmark) AUC and Brier, fold by fold: the
    second view beside the paired bootstrap, and the standard error the one-SE rule uses
    (SD / sqrt(folds) understates it, as folds share training rows: report the SD)."""
    differences: dict[str, list[float]] = {"roc_auc": [], "brier": []}
    for k, (_, test) in enumerate(splits):
        model = performance(y[test], model_out_of_fold[k // n_splits, test])
        benchmark = performance(y[test], benchmark_out_of_fold[k // n_splits, test])
        for name in differences:
            differences[name].append(model[name] - benchmark[name])
    return {
        name: {
            "mean": float(np.mean(values)),
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "folds": len(values),
            "folds_model_better": int(
                np.sum(np.asarray(values) > 0 if name == "roc_auc" else np.asarray(values) < 0)
            ),
        }
        for name, values in differences.items()
    }


def _without_arrays(result: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}


def validate(
    data: pd.DataFrame,
    fit: Fit,
    seed: int = 0,
    n_boot: int = 200,
    benchmark_fits: Mapping[str, Fit] | None = None,
    thresholds: Sequence[float] = BENCHMARK_THRESHOLDS,
    *,
    n_repeats: int = 10,
    n_splits: int = 5,
    band_edges: Sequence[float] = DEFAULT_BAND_EDGES,
    parameters: int | None = None,
    n_jobs: int = 2,
    plots_dir: Path | None = None,
    arrays: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Everything the clinical review asks of the validation, as one JSON-serialisable dict.

    ``data``: every development row (FEATURES and TARGET). ``fit``: the whole procedure.
    ``n_boot``: bootstrap refits for optimism and instability (the statistical bootstraps
    of curves and tables use ``max(n_boot, 200)`` resamples, which cost no refits).
    ``benchmark_fits``: defaults to the age-only and age + sex models. ``thresholds``:
    where net benefit differences are reported. ``parameters``: the model's candidate
    parameters, for Riley's criteria. If ``plots_dir`` is given the calibration and
    instability plots are written there; if ``arrays`` is given it receives the main and
    bootstrap models' probabilities and the out-of-fold ones.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    data = data.reset_index(drop=True)
    y = data[TARGET].to_numpy().astype(int)
    benchmark_fits = dict(BENCHMARK_FITS if benchmark_fits is None else benchmark_fits)
    resamples = max(n_boot, 200)

    t = time.perf_counter()
    optimism = optimism_corrected(data, fit, n_boot=n_boot, seed=seed, n_jobs=n_jobs)
    t = lap("optimism_bootstrap", t)
    cv = repeated_cv(data, fit, n_splits, n_repeats, seed, n_jobs=n_jobs)
    p = cv["probabilities"]
    t = lap("repeated_cv", t)

    benchmarks: dict[str, Any] = {
        "method": (
            "out-of-fold predictions averaged over the same repeated folds as the model; "
            "differences model - benchmark with paired bootstrap 95% CIs"
        ),
    }
    benchmark_probabilities: dict[str, np.ndarray] = {}
    splits = cv_splits(y, n_splits, n_repeats, seed)
    for name, benchmark in benchmark_fits.items():
        bench_cv = repeated_cv(data, benchmark, n_splits, n_repeats, seed, n_jobs=n_jobs)
        benchmark_probabilities[name] = bench_cv["probabilities"]
        benchmarks[name] = {
            "repeated_cv": _without_arrays(bench_cv),
            "model_minus_benchmark": compare_models(
                y, p, bench_cv["probabilities"], thresholds, n_boot=resamples, seed=seed
            ),
            "model_minus_benchmark_per_fold": per_fold_differences(
                y, cv["out_of_fold"], bench_cv["out_of_fold"], splits, n_splits
            ),
        }
    t = lap("benchmarks", t)

    curve = decision_curve(y, p, DEFAULT_THRESHOLDS, n_boot=resamples, seed=seed)
    for name, bench_p in benchmark_probabilities.items():
        curve[name] = net_benefit_rows(y[None], bench_p[None], np.asarray(curve["threshold"]))[0]
    t = lap("decision_curve", t)
    subgroups = subgroup_performance(data, y, p, n_boot=resamples, seed=seed)
    t = lap("subgroups", t)
    calibration = loess_calibration(y, p, n_boot=resamples, seed=seed)
    t = lap("calibration_curve", t)

    sample_size: dict[str, Any] = {
        "method": "Riley et al. BMJ 2020 (criteria i-iii), R2_cs from out-of-fold predictions",
    }
    if parameters is not None:
        sample_size.update(sample_size_report(y, p, parameters))
    corrected_r2 = optimism["metrics"]["cox_snell_r2"]["corrected"]
    sample_size["optimism_corrected_cox_snell_r2"] = corrected_r2
    if 0 < corrected_r2 < 0.9:
        sample_size["max_parameters_criterion_i_at_corrected_r2"] = riley_max_parameters(
            len(y), corrected_r2
        )
    t = lap("sample_size", t)

    instability = prediction_instability(
        optimism["main_probabilities"], optimism["bootstrap_probabilities"], band_edges
    )
    t = lap("instability", t)
    what_if = {
        "odds_ratios": age_adjusted_odds_ratios(data),
        "model_odds_ratios": model_odds_ratios(fit(data, seed), data),
        "crude_stroke_rate_by_smoking": crude_rates_by_smoking(data),
        "glucose_within_ranges": glucose_within_ranges(data),
        "note": model_odds_ratios_note(),
    }
    t = lap("what_if_evidence", t)

    if plots_dir is not None:
        plot_calibration_curve(y, p, Path(plots_dir) / "calibration_loess.png", curve=calibration)
        plot_instability(
            optimism["main_probabilities"],
            optimism["bootstrap_probabilities"],
            Path(plots_dir) / "instability.png",
            band_edges,
        )
        t = lap("plots", t)
    if arrays is not None:
        arrays["main_probabilities"] = optimism["main_probabilities"]
        arrays["bootstrap_probabilities"] = optimism["bootstrap_probabilities"]
        arrays["out_of_fold"] = cv["out_of_fold"]
        arrays["validation_probabilities"] = p
        arrays.update({f"{name}_probabilities": v for name, v in benchmark_probabilities.items()})

    timings["total"] = round(time.perf_counter() - started, 2)
    result = {
        "validation": {
            "patients": len(y),
            "strokes": int(y.sum()),
            "optimism_corrected": _without_arrays(optimism),
            "repeated_cv": _without_arrays(cv),
        },
        "benchmarks": benchmarks,
        "decision_curve": curve,
        "subgroups": subgroups,
        "calibration_curve": calibration,
        "sample_size": sample_size,
        "instability": instability,
        "what_if_evidence": what_if,
        "run": {"seed": seed, "n_boot": n_boot, "n_jobs": n_jobs, "seconds": timings},
    }
    return jsonable(result)


def validate_chosen_model(
    data: pd.DataFrame,
    family: str,
    best_params: Mapping[str, Any],
    seed: int,
    quick: bool = False,
    n_jobs: int = 2,
    plots_dir: Path | None = None,
) -> dict[str, Any]:
    """`make validate`: :func:`validate` for training's chosen family and hyperparameters,
    plus the intended population's own figures (adults: every channel refuses under-18s,
    whose 856 easy negatives would flatter the all-rows figures): the headline metrics,
    the difference to age alone, the subgroup table (the reply's ranking caveat reads its
    age bands) and the decision curve; children are summarised apart."""
    fit = family_fit(family, **{f"{MODEL_STEP}__{k}": v for k, v in best_params.items()})
    arrays: dict[str, np.ndarray] = {}
    parameters = (
        logistic_regression_parameters(data, seed) if family == "logistic_regression" else None
    )
    result = validate(
        data,
        fit,
        seed=seed,
        n_boot=20 if quick else 200,
        n_repeats=2 if quick else 10,
        parameters=parameters,
        n_jobs=n_jobs,
        plots_dir=plots_dir,
        arrays=arrays,
    )
    frame = data.reset_index(drop=True)
    adults = (frame["age"] >= ADULT_AGE).to_numpy()
    y_all = frame[TARGET].to_numpy().astype(int)
    p_all = arrays["validation_probabilities"]
    y, p = y_all[adults], p_all[adults]
    resamples = 20 if quick else 200
    population: dict[str, Any] = {
        "definition": f"age >= {ADULT_AGE:g} (every scoring channel refuses younger patients)",
        "patients": int(adults.sum()),
        "strokes": int(y.sum()),
        "repeated_cv_out_of_fold": risk_metrics(y, p),
        "decision_curve": decision_curve(y, p, DEFAULT_THRESHOLDS, n_boot=resamples, seed=seed),
        "subgroups": subgroup_performance(
            frame[adults].reset_index(drop=True), y, p, n_boot=resamples, seed=seed
        ),
    }
    for name in BENCHMARK_FITS:
        bench = arrays[f"{name}_probabilities"][adults]
        population[f"{name}_roc_auc"] = risk_metrics(y, bench)["roc_auc"]
        population[f"model_minus_{name}"] = compare_models(
            y, p, bench, BENCHMARK_THRESHOLDS, n_boot=resamples, seed=seed
        )
    result["intended_population"] = jsonable(population)
    result["data_support"] = jsonable(
        data_support_evidence(
            frame,
            arrays["main_probabilities"],
            arrays["bootstrap_probabilities"],
            p_all,
        )
    )
    children = ~adults
    result["children"] = jsonable(
        {
            "definition": f"age < {ADULT_AGE:g}: in the development data, never scored",
            "patients": int(children.sum()),
            "strokes": int(y_all[children].sum()),
            "repeated_cv_out_of_fold": risk_metrics(y_all[children], p_all[children])
            if 0 < y_all[children].sum() < children.sum()
            else None,
        }
    )
    return result
