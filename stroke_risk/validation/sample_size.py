"""How many parameters this data set can support: Riley et al.'s criteria for binary outcomes.

Riley RD et al., "Calculating the sample size required for developing a clinical
prediction model", BMJ 2020;368:m441 (and Stat Med 2019;38:1276-96, part II), as the
``pmsampsize`` package implements them:

(i)   expected uniform shrinkage S >= 0.9:  n = p / ((S - 1) ln(1 - R2_cs / S));
(ii)  optimism in Nagelkerke's R2 <= 0.05: criterion (i) with
      S = R2_cs / (R2_cs + 0.05 * max(R2_cs)), max(R2_cs) = 1 - exp(2 lnL_null / n);
(iii) the overall risk estimated within +-0.05: n = (1.96 / 0.05)^2 phi (1 - phi).

R2_cs is the Cox-Snell R2 of the model (anticipated, ideally optimism-corrected);
p is the number of candidate predictor parameters (every coefficient, spline term and
dummy, not just the number of factors).
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-12


def _log_likelihood(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def cox_snell_r2(y: np.ndarray, p: np.ndarray) -> float:
    """Cox-Snell R2 = 1 - exp(-LR / n), LR = 2 (lnL_model - lnL_null).

    The null model predicts the observed prevalence for everyone. Predictions worse than
    that give a negative value, which is kept: it says the model loses information.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    null = _log_likelihood(y, np.full_like(p, y.mean()))
    ratio = 2 * (_log_likelihood(y, p) - null)
    return float(1 - math.exp(-ratio / y.size))


def max_cox_snell_r2(prevalence: float) -> float:
    """The largest Cox-Snell R2 a perfect model could reach at this prevalence."""
    phi = prevalence
    null_per_patient = phi * math.log(phi) + (1 - phi) * math.log(1 - phi)
    return 1 - math.exp(2 * null_per_patient)


def nagelkerke_r2(y: np.ndarray, p: np.ndarray) -> float:
    """Cox-Snell R2 divided by its maximum at the observed prevalence."""
    return cox_snell_r2(y, p) / max_cox_snell_r2(float(np.mean(y)))


def _check(r2_cs: float, shrinkage: float) -> None:
    if not 0 < shrinkage < 1:
        raise ValueError(f"shrinkage must be between 0 and 1, got {shrinkage}")
    if not 0 < r2_cs < shrinkage:
        raise ValueError(f"r2_cs must be positive and below the shrinkage, got {r2_cs}")


def riley_minimum_sample_size(
    parameters: int, prevalence: float, r2_cs: float, shrinkage: float = 0.9
) -> dict[str, int]:
    """Riley's minimum n for each criterion (rounded up) and the largest of them.

    ``events`` is that n times the prevalence (rounded up), as ``pmsampsize`` reports.
    """
    _check(r2_cs, shrinkage)
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be between 0 and 1, got {prevalence}")
    n_shrinkage = parameters / ((shrinkage - 1) * math.log(1 - r2_cs / shrinkage))
    s_nagelkerke = r2_cs / (r2_cs + 0.05 * max_cox_snell_r2(prevalence))
    n_optimism = parameters / ((s_nagelkerke - 1) * math.log(1 - r2_cs / s_nagelkerke))
    n_intercept = (1.96 / 0.05) ** 2 * prevalence * (1 - prevalence)
    sizes = {
        "criterion_i_shrinkage": math.ceil(n_shrinkage),
        "criterion_ii_optimism": math.ceil(n_optimism),
        "criterion_iii_intercept": math.ceil(n_intercept),
    }
    minimum = max(sizes.values())
    return {**sizes, "minimum": minimum, "events": math.ceil(minimum * prevalence)}


def riley_max_parameters(
    n: int, r2_cs: float, shrinkage: float = 0.9, prevalence: float | None = None
) -> float:
    """The most candidate parameters n patients support: criterion (i) solved for p.

    p = n (S - 1) ln(1 - R2_cs / S). With ``prevalence`` given, criterion (ii) is also
    applied and the smaller of the two returned.
    """
    _check(r2_cs, shrinkage)
    most = n * (shrinkage - 1) * math.log(1 - r2_cs / shrinkage)
    if prevalence is not None:
        s_nagelkerke = r2_cs / (r2_cs + 0.05 * max_cox_snell_r2(prevalence))
        most = min(most, n * (s_nagelkerke - 1) * math.log(1 - r2_cs / s_nagelkerke))
    return float(most)


def expected_shrinkage(n: int, parameters: int, r2_cs: float) -> float:
    """The uniform shrinkage a model with these parameters is expected to need (Riley's
    equation 7, from Van Houwelingen): S = 1 + p / (n ln(1 - R2_cs / S)), solved by
    fixed-point iteration."""
    s = 0.9
    for _ in range(200):
        s_next = 1 + parameters / (n * math.log(1 - r2_cs / s))
        if abs(s_next - s) < 1e-10:
            break
        s = s_next
    return float(s)


def sample_size_report(
    y: np.ndarray, p: np.ndarray, parameters: int, shrinkage: float = 0.9
) -> dict[str, object]:
    """Riley's criteria for this data set, with R2_cs from the given predictions.

    Pass validation (out-of-fold or optimism-corrected) predictions: Riley asks for an
    anticipated R2_cs that is not inflated by overfitting.
    """
    y = np.asarray(y, dtype=float)
    n, prevalence = int(y.size), float(y.mean())
    r2 = cox_snell_r2(y, p)
    needed = riley_minimum_sample_size(parameters, prevalence, r2, shrinkage)
    return {
        "n": n,
        "events": int(y.sum()),
        "prevalence": prevalence,
        "cox_snell_r2": r2,
        "nagelkerke_r2": r2 / max_cox_snell_r2(prevalence),
        "max_cox_snell_r2": max_cox_snell_r2(prevalence),
        "shrinkage_target": shrinkage,
        "max_parameters_criterion_i": riley_max_parameters(n, r2, shrinkage),
        "max_parameters_criteria_i_ii": riley_max_parameters(n, r2, shrinkage, prevalence),
        "model_parameters": parameters,
        "expected_shrinkage_of_model": expected_shrinkage(n, parameters, r2),
        "minimum_sample_size_for_model": needed,
    }
