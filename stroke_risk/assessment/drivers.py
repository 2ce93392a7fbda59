"""What drives a patient's risk: exact shares of the gap to a named reference patient.

Each factor's share is its Shapley value of the calibrated log-odds, with the reference
patient (the typical adult of the training data, named in every reply) as the baseline.
The shares add up exactly: their sum is logit(p) - logit(p_reference), and their
exponentials (odds ratios) multiply to the ratio of the two odds. On the probability scale
"the risk if only this factor were typical" does not add up (in the high band such
effects summed to 1.3 times the gap, up to 1.6), so shares are reported where they are
exact, with the reference's probability beside them.

For an additive model (logistic regression, depth-one XGBoost) a factor's Shapley value
is its own term's difference from the reference's, times the calibration slope: no
enumeration needed. Any other model (a decision tree) is explained by enumerating all
2^10 coalitions of the factors, which gives the same exact values, more slowly.

The reply lists clinical factors (age, sex, conditions, glucose, BMI, smoking) as drivers,
and residence, work and marriage apart, as context: associations of this data set
(rural x0.91, self-employed x0.76, never married x1.12) that a GP cannot act on and a
patient should not be asked to change.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import msgspec
import numpy as np

from stroke_risk.assessment.results import DECIMALS, FactorResult, encoded, round_as_numpy
from stroke_risk.core.responses import CONTEXT_FACTORS
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.shape_functions import ShapeFunctions

_DIRECTIONS = {1: "raises", -1: "lowers", 0: "none"}
_CHUNK = 64  # patients per enumeration step: 64 x 1,024 variant rows
# Shared factor entries kept at most (a tree's shares vary with the whole patient, so its
# entries rarely repeat; an additive model's few fields with few values need about 40).
_SHARED_LIMIT = 4096


def reference_columns(profile: TrainingProfile) -> Columns:
    """The profile's reference (typical) patient as one-row columns."""
    return {
        name: np.array([value], dtype=float if name in NUMERIC_FEATURES else object)
        for name, value in profile.reference.items()
    }


def describe_reference(reference: dict[str, Any]) -> str:
    """The reference patient in words, e.g. 'a 50.5-year-old woman who never smoked, ...'."""
    sex = {"Female": "woman", "Male": "man"}.get(str(reference["gender"]), "person")
    smoking = {
        "never smoked": "who never smoked",
        "formerly smoked": "who formerly smoked",
        "smokes": "who smokes",
    }.get(str(reference["smoking_status"]), "whose smoking is not recorded")
    conditions = [
        name
        for name, flag in (("hypertension", "hypertension"), ("heart disease", "heart_disease"))
        if reference[flag]
    ]
    has = (
        ", with " + " and ".join(conditions) if conditions else ", no hypertension or heart disease"
    )
    married = "ever married" if reference["ever_married"] == "Yes" else "never married"
    return (
        f"a {reference['age']:g}-year-old {sex} {smoking}{has}, BMI {reference['bmi']:g}, "
        f"average glucose {reference['avg_glucose_level']:g} mg/dL, {married}, "
        f"{str(reference['work_type']).replace('_', ' ').lower()} work, "
        f"{str(reference['residence_type']).lower()} residence (the typical adult in the "
        "training data)"
    )


def _shapley_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All 2^n coalitions as 0/1 rows, and the matrix that turns their values into Shapley
    values: phi_i = sum over S of w_i(S) v(S), w_i(S) = |S|-1)!(n-|S|)!/n! if i in S, else
    -|S|!(n-|S|-1)!/n!."""
    coalitions = np.array(list(product((0, 1), repeat=n)), dtype=bool)
    sizes = coalitions.sum(axis=1)
    fact = math.factorial
    inside = np.array([fact(s - 1) * fact(n - s) / fact(n) if s else 0.0 for s in sizes])
    outside = np.array([fact(s) * fact(n - s - 1) / fact(n) if s < n else 0.0 for s in sizes])
    weights = np.where(coalitions.T, inside[None, :], -outside[None, :])  # (n, 2^n)
    return coalitions, weights


class Drivers:
    """Each factor's exact log-odds share against the reference patient, one or many."""

    def __init__(
        self,
        lean: LeanModel,
        profile: TrainingProfile,
        shapes: ShapeFunctions | None,
        top_factors: int,
    ) -> None:
        self.lean = lean
        self.top_factors = top_factors
        reference = reference_columns(profile)
        self.slices = lean.encoder.slices()
        self.reference_row = lean.encoder.encode(reference)[0]
        self.reference_probability = float(lean.predict(reference)[0])
        self.reference = {
            "description": describe_reference(profile.reference),
            "probability": round(self.reference_probability, DECIMALS),
            "values": {name: profile.reference[name] for name in FEATURES},
        }
        # Plain lists, read once per factor of every result of a batch.
        self.names = list(FEATURES)
        self.labels = [Patient.model_fields[name].title or name for name in FEATURES]
        self.kinds = ["context" if name in CONTEXT_FACTORS else "clinical" for name in FEATURES]
        # Context factors, in the schema's order: always listed, apart from the drivers.
        self.context = [k for k, kind in enumerate(self.kinds) if kind == "context"]
        self.clinical = np.array([kind == "clinical" for kind in self.kinds])
        self.smoking = FEATURES.index("smoking_status")
        self._numeric = frozenset(FEATURES.index(name) for name in NUMERIC_FEATURES)
        self._shared: dict[tuple[int, Any, float], FactorResult] = {}
        self._shared_context: dict[tuple[Any, ...], msgspec.Raw] = {}
        self.reference_values = [profile.reference[name] for name in FEATURES]
        # Calibrated log-odds = -(a * margin + b): a term's share is -a times its change.
        self.slope = -lean.calibration_a
        self.reference_terms = (
            [shapes.term(name, profile.reference[name]) for name in FEATURES]
            if shapes is not None
            else None
        )

    def shares_one(self, terms: list[float]) -> list[float]:
        """An additive model's shares for one patient, from its terms."""
        assert self.reference_terms is not None  # nosec B101  # type narrowing, not a check
        slope = self.slope
        return [slope * (t - r) for t, r in zip(terms, self.reference_terms, strict=True)]

    def shares_from_terms(self, terms: np.ndarray) -> np.ndarray:
        """An additive model's shares: (n, factors)."""
        return self.slope * (terms - np.array(self.reference_terms)[None, :])

    def shares_by_enumeration(self, encoded: np.ndarray) -> np.ndarray:
        """Exact Shapley values of any model's calibrated log-odds: (n, factors)."""
        coalitions, weights = _shapley_weights(len(FEATURES))
        out = np.empty((len(encoded), len(FEATURES)))
        for start in range(0, len(encoded), _CHUNK):
            rows = encoded[start : start + _CHUNK]
            variants = np.repeat(self.reference_row[None, None, :], len(coalitions), axis=0)
            variants = np.repeat(variants, len(rows), axis=1)  # (2^F, chunk, width)
            for k, name in enumerate(FEATURES):
                columns = self.slices[name]
                chosen = coalitions[:, k]
                variants[chosen, :, columns] = rows[None, :, columns]
            p = self.lean.predict_encoded(variants.reshape(-1, encoded.shape[1]))
            p = np.clip(p, 1e-15, 1 - 1e-15)
            values = np.log(p / (1 - p)).reshape(len(coalitions), len(rows))
            out[start : start + len(rows)] = (weights @ values).T
        return out

    def results(
        self, values: dict[str, Any], shares: list[float], top: list[int]
    ) -> list[FactorResult]:
        """The factors at positions ``top``, in that order (the reply's
        ``contributing_factors`` or ``context_factors``), for one patient.

        ``shares`` are already rounded to ``DECIMALS``; odds ratios are worked out only for
        the entries built here (a batch has them from one numpy call: :meth:`listed_many`).
        A factor's entry is fixed by its position, value and rounded share, so entries of
        fields with few values (sex, conditions, smoking, the context factors) are built
        once and shared by every reply that holds them (they are frozen): a batch builds a
        fraction of its 80,000 entries."""
        names, numeric = self.names, self._numeric
        if len(self._shared) > _SHARED_LIMIT:  # a model whose shares vary continuously
            self._shared.clear()
        out = []
        for k in top:
            value = values[names[k]]
            share = shares[k]
            if k in numeric:
                out.append(self._entry(k, value, share, None))
                continue
            out.append(self._shared_entry(k, value, share, None))
        return out

    def context_results(self, values: dict[str, Any], shares: list[float]) -> msgspec.Raw:
        """:meth:`results` for the context factors, encoded: the whole list is shared by the
        replies of patients with the same context values and shares."""
        key = tuple(values[self.names[k]] for k in self.context) + tuple(
            shares[k] for k in self.context
        )
        entries = self._shared_context.get(key)
        return entries if entries is not None else self._context_entries(key)

    def context_many(
        self, columns: Columns, rounded_shares: np.ndarray
    ) -> list[list[FactorResult]]:
        """:meth:`context_results` for every patient of a batch (``rounded_shares``: one
        row per patient, rounded to ``DECIMALS``), the keys made column by column."""
        shared = self._shared_context
        keys = zip(
            *(columns[self.names[k]].tolist() for k in self.context),
            *(rounded_shares[:, k].tolist() for k in self.context),
            strict=True,
        )
        out = []
        for key in keys:
            entries = shared.get(key)
            out.append(entries if entries is not None else self._context_entries(key))
        return out

    def _context_entries(self, key: tuple[Any, ...]) -> msgspec.Raw:
        """The context factors' encoded entries for ``key`` (their values, then their
        shares), built and kept: the one place both paths build them."""
        if len(self._shared_context) > _SHARED_LIMIT:
            self._shared_context.clear()
        values = {self.names[k]: key[j] for j, k in enumerate(self.context)}
        shares = [0.0] * len(self.names)
        for j, k in enumerate(self.context, start=len(self.context)):
            shares[k] = key[j]
        entries = encoded(self.results(values, shares, self.context))
        self._shared_context[key] = entries
        return entries

    def listed_many(
        self,
        columns: Columns,
        rounded_shares: np.ndarray,
        odds_ratios: np.ndarray,
        top: list[list[int]],
    ) -> list[list[FactorResult]]:
        """:meth:`results` for every patient of a batch: each listed factor's entries are
        made field by field (a few-valued field's from the shared ones), then each
        patient's picked out in order."""
        if len(self._shared) > _SHARED_LIMIT:
            self._shared.clear()
        by_factor: dict[int, list[FactorResult]] = {}
        for k in sorted({k for row in top for k in row}):
            name = self.names[k]
            values = columns[name].tolist()
            shares = rounded_shares[:, k].tolist()
            odds = odds_ratios[:, k].tolist()
            if k in self._numeric:
                values = [None if v != v else v for v in values]  # NaN: a blank BMI
                by_factor[k] = [
                    self._entry(k, v, s, o) for v, s, o in zip(values, shares, odds, strict=True)
                ]
                continue
            by_factor[k] = [
                self._shared_entry(k, v, s, o) for v, s, o in zip(values, shares, odds, strict=True)
            ]
        return [[by_factor[k][i] for k in row] for i, row in enumerate(top)]

    def _shared_entry(
        self, k: int, value: Any, share: float, odds_ratio: float | None
    ) -> FactorResult:
        """The entry of a few-valued field, built once and shared."""
        key = (k, value, share)
        entry = self._shared.get(key)
        if entry is None:
            entry = self._shared[key] = self._entry(k, value, share, odds_ratio)
        return entry

    def _entry(self, k: int, value: Any, share: float, odds_ratio: float | None) -> FactorResult:
        """One factor's entry; its odds ratio given, or (None) worked out from the rounded
        share."""
        if odds_ratio is None:
            odds_ratio = odds_ratio_of_rounded_share(share)
        return FactorResult(
            self.names[k],
            self.labels[k],
            value,
            self.reference_values[k],
            odds_ratio,
            share,
            _DIRECTIONS[(share > 0) - (share < 0)],
            self.kinds[k],
        )


def odds_ratios(rounded_shares: np.ndarray) -> np.ndarray:
    """exp of the (already rounded) shares, to 3 decimals: the same numbers on both paths."""
    return np.round(np.exp(rounded_shares), 3)


def odds_ratio_of_rounded_share(share: float) -> float:
    """:func:`odds_ratios` for one share already rounded to ``DECIMALS``, in plain Python.

    math's ``exp`` and numpy's vectorised one differ in the last place for about one value
    in twenty, but a test checks every rounded share from -10 to 10 gives the same odds
    ratio both ways once rounded to 3 decimals."""
    return round_as_numpy(math.exp(share), 1000.0)
