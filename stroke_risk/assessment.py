"""From calibrated probability to what a GP acts on: band, comparison, drivers, what-ifs.

Everything is computed for many patients at once: each patient is scored as given, once
with each factor set to the training population's typical value (how much that factor
moves the risk), and once with each modifiable factor at a healthy value. All of those
rows go through the model in one call, so a batch of 10,000 patients costs a few numpy
operations rather than 140,000 model calls.

The data are cross-sectional, so the what-ifs describe how risk differs between otherwise
similar patients, not a proven effect of changing one factor; the README says so too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from stroke_risk.age_bands import AGE_BANDS
from stroke_risk.config import Settings
from stroke_risk.lean import AdditiveTreesScore, Columns, LeanModel, LinearScore
from stroke_risk.profile import TrainingProfile
from stroke_risk.schema import FEATURES, NUMERIC_FEATURES, Patient, categories

# Short, because it is repeated in every result of a batch; the README and model card
# carry the full caveats (educational data set, label is a history of stroke).
DISCLAIMER = "Decision support, not a diagnosis. See the model card for its limits."
DECIMALS = 4  # probabilities are reported to 0.01 percentage points
MIN_PEERS = 20  # fewer training patients than this in a sex/age group: compare with both sexes
_DIRECTIONS = {1: "raises", -1: "lowers", 0: "none"}
AGE_BAND_EDGES = np.array([low for low, _, _ in AGE_BANDS])

RiskBand = Literal["low", "moderate", "high"]


class Factor(BaseModel):
    """How much one factor moves this patient's risk compared with a typical value."""

    factor: str = Field(description="Field name, e.g. 'age'.")
    label: str
    value: float | int | str | None = Field(description="The patient's value.")
    typical_value: float | int | str = Field(description="The training population's typical value.")
    risk_if_typical: float = Field(description="Probability if only this factor were typical.")
    effect: float = Field(description="probability - risk_if_typical (positive raises risk).")
    direction: Literal["raises", "lowers", "none"]


class WhatIf(BaseModel):
    """The risk if one modifiable factor were at a healthy value, all else unchanged."""

    factor: str
    change: str = Field(description="What would change, e.g. 'stop smoking'.")
    current_value: float | str
    target_value: float | str
    probability: float
    absolute_reduction: float = Field(description="Current probability minus this one.")


class PeerComparison(BaseModel):
    """The average risk of training patients of the same sex and age band."""

    group: str = Field(description="e.g. 'Female, 60-69'.")
    patients: int
    average_risk: float = Field(description="Mean calibrated risk the model gives the group.")
    observed_rate: float = Field(description="Share of the group with a recorded stroke.")
    relative_risk: float = Field(description="This patient's probability / average_risk.")


class Assessment(BaseModel):
    """One patient's result. Decision support, not a diagnosis."""

    probability: float = Field(ge=0, le=1, description="Calibrated probability of stroke.")
    percent: float = Field(description="The probability as a percentage, one decimal.")
    risk_band: RiskBand
    risk_band_thresholds: tuple[float, float] = Field(
        description="low < first <= moderate < second <= high."
    )
    comparison: PeerComparison
    contributing_factors: list[Factor] = Field(description="Largest effects first.")
    what_if: list[WhatIf] = Field(description="Only factors not already at a healthy value.")
    warnings: list[str]
    model_tag: str
    disclaimer: str = DISCLAIMER


@dataclass(frozen=True)
class _Change:
    factor: str
    change: str
    target: float | str
    applies: np.ndarray  # bool per patient


def patients_to_columns(patients: list[Patient]) -> Columns:
    """Validated patients -> one numpy array per field (a blank BMI becomes NaN)."""
    columns: Columns = {}
    for name in FEATURES:
        values = [getattr(patient, name) for patient in patients]
        if name in NUMERIC_FEATURES:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            columns[name] = np.array(values, dtype=object)
    return columns


class RiskAssessor:
    """Scores patients with the lean model and explains each result.

    Results are plain dicts shaped like :class:`Assessment` (the service declares that model
    for its OpenAPI document): building 10,000 pydantic objects would cost more than the
    model itself.
    """

    def __init__(
        self, lean: LeanModel, profile: TrainingProfile, settings: Settings, model_tag: str
    ) -> None:
        self.lean = lean
        self.profile = profile
        self.settings = settings
        self.model_tag = model_tag
        self.thresholds = tuple(settings.risk_band_thresholds)
        encoder = lean.encoder
        self.slices = encoder.slices()
        reference_columns = {
            name: np.array([value], dtype=float if name in NUMERIC_FEATURES else object)
            for name, value in profile.reference.items()
        }
        self.reference_row = encoder.encode(reference_columns)[0]
        self.labels = {name: Patient.model_fields[name].title or name for name in FEATURES}
        self.rare = profile.rare_categories()
        self._peer_groups = self._build_peer_groups()
        self.changes = (
            ("smoking_status", "stop smoking", "formerly smoked"),
            ("bmi", f"reach a BMI of {settings.healthy_bmi:g}", settings.healthy_bmi),
            (
                "avg_glucose_level",
                f"bring average glucose to {settings.healthy_glucose:g} mg/dL",
                settings.healthy_glucose,
            ),
        )
        # The encoded value of each change's target, written straight into encoded rows.
        self._change_rows = []
        for factor, _, target in self.changes:
            column = {
                **reference_columns,
                factor: np.array([target], dtype=reference_columns[factor].dtype),
            }
            self._change_rows.append(encoder.encode(column)[0, self.slices[factor]])

    def _build_peer_groups(self) -> dict[tuple[str, int], dict[str, Any]]:
        groups = {}
        for sex in categories("gender"):
            for index, (_, _, band) in enumerate(AGE_BANDS):
                peers = self.profile.peers.get(TrainingProfile.peer_key(sex, band))
                label = sex
                if peers is None or peers.patients < MIN_PEERS:
                    label = "all sexes"
                    peers = self.profile.peers[TrainingProfile.peer_key("all", band)]
                groups[(sex, index)] = {
                    "group": f"{label}, {band}",
                    "patients": peers.patients,
                    "average_risk": round(peers.mean_predicted, DECIMALS),
                    "observed_rate": round(peers.observed_rate, DECIMALS),
                }
        return groups

    def risk_band(self, probability: float) -> RiskBand:
        low, high = self.thresholds
        return "low" if probability < low else "moderate" if probability < high else "high"

    def _applies(self, columns: Columns) -> list[np.ndarray]:
        with np.errstate(invalid="ignore"):
            return [
                columns["smoking_status"] == "smokes",
                columns["bmi"] > self.settings.healthy_bmi,
                columns["avg_glucose_level"] > self.settings.healthy_glucose,
            ]

    def probabilities(
        self, columns: Columns
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(as given [n], each factor typical [F, n], each change applied [C, n], applies)."""
        base = self.lean.encoder.encode(columns)
        applies = self._applies(columns)
        score = self.lean.score
        if isinstance(score, LinearScore | AdditiveTreesScore):
            return (*self._additive_probabilities(score, base, applies), applies)
        n_variants = 1 + len(FEATURES) + len(self.changes)
        variants = np.repeat(base[None], n_variants, axis=0)
        for k, name in enumerate(FEATURES, start=1):
            variants[k][:, self.slices[name]] = self.reference_row[self.slices[name]]
        for c, ((factor, _, _), row) in enumerate(
            zip(self.changes, self._change_rows, strict=True)
        ):
            variants[1 + len(FEATURES) + c][applies[c], self.slices[factor]] = row
        n = len(base)
        p = self.lean.predict_encoded(variants.reshape(n_variants * n, -1)).reshape(n_variants, n)
        return p[0], p[1 : 1 + len(FEATURES)], p[1 + len(FEATURES) :]

    def _additive_probabilities(
        self, score: LinearScore | AdditiveTreesScore, base: np.ndarray, applies: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For additive scores a variant only swaps one feature's terms: no re-scoring.

        Gives the same numbers as scoring every variant row (to float rounding), at a
        fraction of the cost for large batches.
        """
        membership = self._membership  # (encoded columns, features)
        by_feature = score.terms(base) @ membership  # (n, F)
        margin = score.offset + by_feature.sum(axis=1)
        reference_terms, change_terms = self._additive_constants
        typical = margin[:, None] - by_feature + reference_terms[None, :]
        changed = np.empty((len(self.changes), len(base)))
        for c, (k, target) in enumerate(change_terms):
            changed[c] = np.where(applies[c], margin - by_feature[:, k] + target, margin)
        calibrate, link = self.lean.calibrate, score.link
        return calibrate(link(margin)), calibrate(link(typical.T)), calibrate(link(changed))

    @cached_property
    def _membership(self) -> np.ndarray:
        matrix = np.zeros((self.lean.encoder.width, len(FEATURES)))
        for k, name in enumerate(FEATURES):
            matrix[self.slices[name], k] = 1.0
        return matrix

    @cached_property
    def _additive_constants(self) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """Per-feature terms of the reference patient, and (feature index, terms) of each
        change's target value (e.g. BMI 24.9); computed once per model."""
        score = self.lean.score
        assert isinstance(score, LinearScore | AdditiveTreesScore)
        reference = (score.terms(self.reference_row[None]) @ self._membership)[0]
        changes = []
        for (factor, _, _), row in zip(self.changes, self._change_rows, strict=True):
            encoded = self.reference_row.copy()
            encoded[self.slices[factor]] = row
            k = FEATURES.index(factor)
            changes.append((k, float((score.terms(encoded[None]) @ self._membership)[0, k])))
        return reference, changes

    def assess(self, patients: list[Patient]) -> list[dict[str, Any]]:
        """One explained result per patient, in order, as JSON-ready dicts."""
        if not patients:
            return []
        columns = patients_to_columns(patients)
        probability, typical, changed, applies = self.probabilities(columns)
        effects = probability[None, :] - typical
        top = np.argsort(-np.abs(effects), axis=0, kind="stable")[: self.settings.top_factors]
        n_factors, n_changes = len(FEATURES), len(self.changes)
        # Round everything in one call and turn it into Python floats per patient.
        table = np.round(
            np.concatenate(
                [probability[None], typical, effects, changed, probability[None] - changed]
            ).T,
            DECIMALS,
        )
        rows = table.tolist()
        percent = np.round(100 * probability, 1).tolist()
        direction = np.sign(table[:, 1 + n_factors : 1 + 2 * n_factors]).astype(int).tolist()
        top_list = top.T.tolist()
        applies_rows = np.column_stack(applies).tolist()
        comparisons = self._comparisons(columns, probability)
        warnings = self._warnings(columns)
        labels, reference, tag, thresholds = (
            self.labels,
            self.profile.reference,
            self.model_tag,
            self.thresholds,
        )
        low, high = thresholds
        changed_at = 1 + 2 * n_factors
        results = []
        for i, patient in enumerate(patients):
            values = patient.__dict__
            row = rows[i]
            p = row[0]
            results.append(
                {
                    "probability": p,
                    "percent": percent[i],
                    "risk_band": "low" if p < low else "moderate" if p < high else "high",
                    "risk_band_thresholds": thresholds,
                    "comparison": comparisons[i],
                    "contributing_factors": [
                        {
                            "factor": FEATURES[k],
                            "label": labels[FEATURES[k]],
                            "value": values[FEATURES[k]],
                            "typical_value": reference[FEATURES[k]],
                            "risk_if_typical": row[1 + k],
                            "effect": row[1 + n_factors + k],
                            "direction": _DIRECTIONS[direction[i][k]],
                        }
                        for k in top_list[i]
                    ],
                    "what_if": [
                        {
                            "factor": factor,
                            "change": change,
                            "current_value": values[factor],
                            "target_value": target,
                            "probability": row[changed_at + c],
                            "absolute_reduction": row[changed_at + n_changes + c],
                        }
                        for c, (factor, change, target) in enumerate(self.changes)
                        if applies_rows[i][c]
                    ],
                    "warnings": warnings.get(i, []),
                    "model_tag": tag,
                    "disclaimer": DISCLAIMER,
                }
            )
        return results

    def _comparisons(self, columns: Columns, probability: np.ndarray) -> list[dict[str, Any]]:
        """The peer group of each patient: same sex and age band (both sexes if too few)."""
        bands = np.searchsorted(AGE_BAND_EDGES, columns["age"], side="right") - 1
        relative = np.round(probability / self._peer_risk(columns["gender"], bands), 2).tolist()
        return [
            {**self._peer_groups[(sex, band)], "relative_risk": relative[i]}
            for i, (sex, band) in enumerate(zip(columns["gender"], bands.tolist(), strict=True))
        ]

    def _peer_risk(self, sexes: np.ndarray, bands: np.ndarray) -> np.ndarray:
        return np.array(
            [
                self._peer_groups[(sex, band)]["average_risk"]
                for sex, band in zip(sexes, bands.tolist(), strict=True)
            ]
        )

    def _warnings(self, columns: Columns) -> dict[int, list[str]]:
        """Warnings by patient index; most patients have none, so only they are visited."""
        flagged: dict[int, list[str]] = {}
        for name in NUMERIC_FEATURES:
            values = columns[name]
            low, high = self.profile.ranges[name]
            with np.errstate(invalid="ignore"):
                outside = (values < low) | (values > high)
            if outside.any():
                for i in np.flatnonzero(outside).tolist():
                    flagged.setdefault(i, []).append(
                        f"{name} {values[i]:g} is outside the range seen in training "
                        f"({low:g} to {high:g}): the estimate is an extrapolation."
                    )
        missing_bmi = np.isnan(columns["bmi"])
        if missing_bmi.any():
            for i in np.flatnonzero(missing_bmi).tolist():
                flagged.setdefault(i, []).append(
                    f"BMI not measured: a typical BMI ({self.profile.reference['bmi']}) "
                    "was assumed."
                )
        for name, rare_values in self.rare.items():
            if not rare_values:
                continue
            for i, value in enumerate(columns[name].tolist()):
                if value in rare_values:
                    n = self.profile.category_counts[name].get(value, 0)
                    flagged.setdefault(i, []).append(
                        f"{name} '{value}' is rare in the training data ({n} patients): "
                        "the estimate rests on the other factors."
                    )
        return flagged
