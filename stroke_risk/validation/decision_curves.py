"""Decision curve analysis: is acting on the model better than treating everyone or no one?

Definitions follow Vickers & Elkin (Med Decis Making 2006) as the ``dcurves`` reference
implementation computes them: a patient is "treated" when their predicted risk is at or
above the threshold t; net benefit = TP/n - FP/n * t/(1 - t); treat-all = prevalence -
(1 - prevalence) * t/(1 - t); treat-none = 0. The threshold is the risk at which a GP
would act, and t/(1 - t) is how many false alarms one true case is worth at that risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 * k, 2) for k in range(1, 31))


def _check_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    values = np.asarray(thresholds, dtype=float)
    if values.ndim != 1 or values.size == 0 or np.any((values <= 0) | (values >= 1)):
        raise ValueError(f"thresholds must be risks strictly between 0 and 1, got {thresholds}")
    return values


def net_benefit_rows(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit for each row of (y, p) [B, n] at each threshold: an array [B, T]."""
    n = y.shape[-1]
    treated = p[..., None] >= thresholds  # [B, n, T]
    true_pos = (treated & (y[..., None] == 1)).sum(axis=-2) / n
    false_pos = (treated & (y[..., None] == 0)).sum(axis=-2) / n
    return true_pos - false_pos * thresholds / (1 - thresholds)


def treat_all_rows(y: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    prevalence = y.mean(axis=-1)[..., None]
    return prevalence - (1 - prevalence) * thresholds / (1 - thresholds)


def net_benefit(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    """Net benefit of treating the patients whose predicted risk is >= ``threshold``.

    TP/n - FP/n * t/(1 - t) (Vickers & Elkin 2006; ``dcurves``' ``net_benefit``).
    """
    t = _check_thresholds([threshold])
    y = np.asarray(y)
    return float(net_benefit_rows(y[None], np.asarray(p, dtype=float)[None], t)[0, 0])


def treat_all_net_benefit(y: np.ndarray, threshold: float) -> float:
    """Net benefit of treating everyone: prevalence - (1 - prevalence) * t/(1 - t)."""
    t = _check_thresholds([threshold])
    return float(treat_all_rows(np.asarray(y, dtype=float)[None], t)[0, 0])


def _percentiles(values: np.ndarray) -> tuple[list[float], list[float]]:
    low, high = np.percentile(values, [2.5, 97.5], axis=0)
    return [float(v) for v in low], [float(v) for v in high]


def decision_curve(
    y: np.ndarray,
    p: np.ndarray,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Net benefit of the model, treat-all and treat-none at each threshold, with 95% bands.

    The bands are bootstrap percentiles (rows resampled with replacement, ``n_boot``
    times, the same resamples for every curve), so ``model_minus_treat_all`` has a paired
    interval: where its lower bound is above zero the model beats treating everyone.
    Pass validation (out-of-fold) predictions: apparent predictions flatter the model.
    """
    t = _check_thresholds(thresholds)
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError("y and p must be 1-D arrays of the same length")
    model = net_benefit_rows(y[None], p[None], t)[0]
    treat_all = treat_all_rows(y[None].astype(float), t)[0]
    rng = np.random.default_rng(seed)
    model_boot = np.empty((n_boot, t.size))
    all_boot = np.empty((n_boot, t.size))
    for start in range(0, n_boot, 50):  # chunks keep the [B, n, T] boolean array small
        index = rng.integers(0, y.size, (min(50, n_boot - start), y.size))
        model_boot[start : start + len(index)] = net_benefit_rows(y[index], p[index], t)
        all_boot[start : start + len(index)] = treat_all_rows(y[index].astype(float), t)
    model_low, model_high = _percentiles(model_boot)
    all_low, all_high = _percentiles(all_boot)
    diff_low, diff_high = _percentiles(model_boot - all_boot)
    return {
        "threshold": [float(v) for v in t],
        "model": [float(v) for v in model],
        "model_low": model_low,
        "model_high": model_high,
        "treat_all": [float(v) for v in treat_all],
        "treat_all_low": all_low,
        "treat_all_high": all_high,
        "treat_none": [0.0] * t.size,
        "model_minus_treat_all": [float(v) for v in model - treat_all],
        "model_minus_treat_all_low": diff_low,
        "model_minus_treat_all_high": diff_high,
        "treated_share": [float(v) for v in (p[:, None] >= t).mean(axis=0)],
        "n_boot": n_boot,
    }
