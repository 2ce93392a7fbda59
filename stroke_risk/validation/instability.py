"""How much a patient's risk would change had the model been developed on another sample.

Riley RD & Collins GS, "Stability of clinical prediction models developed using
statistical or machine learning methods", Biometrical Journal 2023;65:2200302: refit the
whole development procedure on bootstrap samples, score the ORIGINAL patients with each
bootstrap model, and compare with the main model's prediction: per-patient 95% ranges,
the mean absolute prediction error (MAPE), classification instability at the decision
thresholds, and the instability plot (main-model risk against bootstrap-model risks).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_BAND_EDGES: tuple[float, ...] = (0.05, 0.15)


def _check(p: np.ndarray, bootstrap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    bootstrap = np.asarray(bootstrap, dtype=float)
    if p.ndim != 1 or bootstrap.ndim != 2 or bootstrap.shape[1] != p.size:
        raise ValueError(
            f"bootstrap predictions must be [models, patients] with {p.size} patients, "
            f"got shape {bootstrap.shape}"
        )
    return p, bootstrap


def prediction_intervals(bootstrap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's 95% range (2.5th and 97.5th percentiles) over the bootstrap models."""
    low, high = np.percentile(np.asarray(bootstrap, dtype=float), [2.5, 97.5], axis=0)
    return low, high


def prediction_instability(
    p: np.ndarray,
    bootstrap: np.ndarray,
    band_edges: Sequence[float] = DEFAULT_BAND_EDGES,
    unstable_share: float = 0.10,
) -> dict[str, Any]:
    """Instability of the main model's predictions ``p`` [n] across bootstrap models [B, n].

    A patient's band is "unstable" when the bootstrap models put them in a different band
    from the main model in at least ``unstable_share`` of refits (Riley & Collins' 10%).
    Returns JSON-ready summaries; :func:`prediction_intervals` gives the per-patient ranges.
    """
    p, bootstrap = _check(p, bootstrap)
    edges = np.asarray(band_edges, dtype=float)
    low, high = prediction_intervals(bootstrap)
    absolute_error = np.abs(bootstrap - p).mean(axis=0)  # per patient, over models
    band = np.digitize(p, edges)
    switched = (np.digitize(bootstrap, edges) != band).mean(axis=0)
    unstable = switched >= unstable_share
    width = high - low
    by_band = {}
    labels = [f"< {edges[0]:.0%}"]
    labels += [f"{a:.0%}-{b:.0%}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels += [f">= {edges[-1]:.0%}"]
    for index, label in enumerate(labels):
        members = band == index
        by_band[label] = {
            "patients": int(members.sum()),
            "unstable_share": float(unstable[members].mean()) if members.any() else None,
            "median_interval_width": float(np.median(width[members])) if members.any() else None,
        }
    return {
        "bootstrap_models": int(bootstrap.shape[0]),
        "mean_absolute_prediction_error": float(absolute_error.mean()),
        "median_absolute_prediction_error": float(np.median(absolute_error)),
        "max_absolute_prediction_error": float(absolute_error.max()),
        "band_edges": [float(e) for e in edges],
        "unstable_band_threshold": unstable_share,
        "unstable_band_share": float(unstable.mean()),
        "by_band": by_band,
        "median_interval_width": float(np.median(width)),
    }


def plot_instability(
    p: np.ndarray,
    bootstrap: np.ndarray,
    path: Path,
    band_edges: Sequence[float] = DEFAULT_BAND_EDGES,
    max_models: int = 50,
    seed: int = 0,
) -> Path:
    """Riley & Collins' instability plot: each bootstrap model's risk against the main one's.

    At most ``max_models`` models are drawn (a random subset) to keep the file small; the
    per-patient 2.5th and 97.5th percentiles over ALL models are drawn as lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, bootstrap = _check(p, bootstrap)
    rng = np.random.default_rng(seed)
    shown = rng.choice(bootstrap.shape[0], min(max_models, bootstrap.shape[0]), replace=False)
    order = np.argsort(p)
    low, high = prediction_intervals(bootstrap)
    top = float(max(p.max(), np.percentile(bootstrap, 99.9)))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(
        np.tile(p, shown.size),
        bootstrap[shown].ravel(),
        s=1,
        alpha=0.05,
        color="tab:blue",
        rasterized=True,
        label=f"{shown.size} bootstrap models",
    )
    # The percentile lines are smoothed (lowess, no robustness iterations) as in Riley &
    # Collins' figures; per-patient percentiles zig-zag between neighbours.
    from statsmodels.nonparametric.smoothers_lowess import lowess

    for values, label in ((low, "2.5th / 97.5th percentile (smoothed)"), (high, None)):
        smooth = lowess(values, p, frac=0.1, it=0, xvals=p[order])
        ax.plot(p[order], smooth, color="black", linewidth=1, label=label)
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    for edge in band_edges:
        ax.axvline(edge, color="tab:red", linestyle=":", linewidth=1)
        ax.axhline(edge, color="tab:red", linestyle=":", linewidth=1)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Risk from the developed model")
    ax.set_ylabel("Risk from bootstrap models (same patients)")
    ax.set_title("Prediction instability")
    legend = ax.legend(loc="upper left", fontsize=8)
    legend.legend_handles[0].set_alpha(1)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
