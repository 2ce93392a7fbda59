"""Smoothed (loess) calibration curve with a bootstrap band, and its plot.

Van Calster et al. (J Clin Epidemiol 2016, "A calibration hierarchy for risk models")
and Austin & Steyerberg (Stat Med 2014) recommend a smoothed curve of observed against
predicted risk over binned points: bins throw information away and their edges change
the picture. The smoother is statsmodels' ``lowess`` of the 0/1 outcome on the predicted
risk, WITHOUT robustness iterations (``it=0``): with a rare outcome, the robust version
treats every stroke as an outlier and pulls the curve to zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from statsmodels.nonparametric.smoothers_lowess import lowess

DEFAULT_FRACTION = 0.3  # share of the patients in each local fit: smooth, yet local


def evaluation_grid(p: np.ndarray, points: int = 50) -> np.ndarray:
    """Risks at which the curve is reported: from the 1st to the 99th percentile of the
    predictions, so the curve is not drawn where there is next to no one."""
    low, high = np.percentile(np.asarray(p, dtype=float), [1, 99])
    return np.linspace(low, high, points)


def _smooth(y: np.ndarray, p: np.ndarray, grid: np.ndarray, frac: float) -> np.ndarray:
    return lowess(y, p, frac=frac, it=0, xvals=grid)


def loess_calibration(
    y: np.ndarray,
    p: np.ndarray,
    grid: np.ndarray | None = None,
    frac: float = DEFAULT_FRACTION,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Observed risk (loess) at each predicted risk on ``grid``, with a 95% bootstrap band.

    Returns lists (JSON-ready): ``predicted`` (the grid), ``observed``, ``observed_low``,
    ``observed_high``. Rows are resampled with replacement ``n_boot`` times and the smoother
    refitted on each; the band is the pointwise 2.5th-97.5th percentile.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError("y and p must be 1-D arrays of the same length")
    grid = evaluation_grid(p) if grid is None else np.asarray(grid, dtype=float)
    observed = _smooth(y, p, grid, frac)
    rng = np.random.default_rng(seed)
    curves = np.empty((n_boot, grid.size))
    for b in range(n_boot):
        index = rng.integers(0, y.size, y.size)
        curves[b] = _smooth(y[index], p[index], grid, frac)
    low, high = np.nanpercentile(curves, [2.5, 97.5], axis=0)
    return {
        "method": f"lowess (frac={frac}, no robustness iterations), {n_boot} bootstraps",
        "predicted": [float(v) for v in grid],
        "observed": [float(v) for v in observed],
        "observed_low": [float(v) for v in low],
        "observed_high": [float(v) for v in high],
    }


def plot_calibration_curve(
    y: np.ndarray,
    p: np.ndarray,
    path: Path,
    curve: dict[str, Any] | None = None,
    title: str = "Calibration (out-of-fold predictions)",
) -> Path:
    """Draw the loess curve, its band and the ideal line, with a histogram of the predicted
    risks underneath (where the curve has little data behind it); write a PNG to ``path``.

    ``curve`` is the output of :func:`loess_calibration`; computed here if not given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.asarray(p, dtype=float)
    curve = loess_calibration(y, p) if curve is None else curve
    grid = np.asarray(curve["predicted"])
    top = float(max(grid.max(), np.nanmax(curve["observed_high"]))) * 1.05
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(6, 7), sharex=True, gridspec_kw={"height_ratios": [4, 1]}
    )
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="Ideal")
    ax.fill_between(
        grid,
        curve["observed_low"],
        curve["observed_high"],
        color="tab:blue",
        alpha=0.25,
        label="95% bootstrap band",
    )
    ax.plot(grid, curve["observed"], color="tab:blue", linewidth=2, label="Loess")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_ylabel("Observed stroke rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    hist.hist(p[p <= top], bins=60, color="grey")
    hist.set_xlabel("Predicted risk")
    hist.set_ylabel("Patients")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
