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

import gc
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import msgspec
import numpy as np
from pydantic import BaseModel, Field

from stroke_risk.age_bands import AGE_BANDS
from stroke_risk.config import Settings
from stroke_risk.lean import Columns, LeanModel
from stroke_risk.profile import TrainingProfile
from stroke_risk.schema import FEATURES, NUMERIC_FEATURES, Patient, categories
from stroke_risk.shape_functions import ShapeFunctions, is_additive

# Short, because it is repeated in every result of a batch; the README and model card
# carry the full caveats (educational data set, label is a history of stroke).
DISCLAIMER = "Decision support, not a diagnosis. See the model card for its limits."
DECIMALS = 4  # probabilities are reported to 0.01 percentage points
MIN_PEERS = 20  # fewer training patients than this in a sex/age group: compare with both sexes
_DIRECTIONS = {1: "raises", -1: "lowers", 0: "none"}
AGE_BAND_EDGES = np.array([low for low, _, _ in AGE_BANDS])
AGE_BAND_EDGES_LIST = AGE_BAND_EDGES.tolist()

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


# What the service actually builds and sends: msgspec Structs with the same fields, in the
# same order, as the pydantic models above (which document the reply in the OpenAPI
# schema; a test keeps the two in step). A 10,000-patient batch has about 90,000 of these
# objects: Structs are built about three times faster than dicts and serialised as fast
# as orjson serialises dicts (bench/README.md). gc=False: they never form cycles, so the
# cyclic garbage collector need not track them.


class FactorResult(msgspec.Struct, gc=False):
    factor: str
    label: str
    value: float | int | str | None
    typical_value: float | int | str
    risk_if_typical: float
    effect: float
    direction: str


class WhatIfResult(msgspec.Struct, gc=False):
    factor: str
    change: str
    current_value: float | str
    target_value: float | str
    probability: float
    absolute_reduction: float


class AssessmentResult(msgspec.Struct, gc=False):
    probability: float
    percent: float
    risk_band: str
    risk_band_thresholds: tuple[float, float]
    comparison: dict[str, Any]
    contributing_factors: list[FactorResult]
    what_if: list[WhatIfResult]
    warnings: list[str]
    model_tag: str
    disclaimer: str


encode_json = msgspec.json.Encoder().encode
"""Results (or any structure holding them) as JSON bytes."""


@contextmanager
def _no_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects: they hold no
    cycles, and collections triggered by their sheer number cost a third of a batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

    Results are :class:`AssessmentResult` Structs shaped like :class:`Assessment` (the
    service declares that model for its OpenAPI document): building 10,000 pydantic objects
    would cost more than the model itself. ``encode_json`` turns them into the reply;
    ``msgspec.to_builtins`` into plain dicts.
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
        # Plain lists, read once per factor of every result of a batch.
        self._factor_names = list(FEATURES)
        self._factor_labels = [self.labels[name] for name in FEATURES]
        self._factor_typical = [profile.reference[name] for name in FEATURES]
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
        # Additive models are explained by swapping one field's term (see shape_functions).
        self.shapes = ShapeFunctions(lean) if is_additive(lean) else None
        if self.shapes is not None:
            self._reference_terms = [self.shapes.term(f, profile.reference[f]) for f in FEATURES]
            self._target_terms = [
                (FEATURES.index(factor), self.shapes.term(factor, target))
                for factor, _, target in self.changes
            ]

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
        applies = self._applies(columns)
        if self.shapes is not None:
            terms = self.shapes.terms(columns)
            margin = self.shapes.margins(terms)
            typical = margin[:, None] - terms + np.array(self._reference_terms)[None, :]
            changed = np.empty((len(self.changes), len(margin)))
            for c, (k, target) in enumerate(self._target_terms):
                changed[c] = np.where(applies[c], margin - terms[:, k] + target, margin)
            to_p = self.shapes.probabilities
            return to_p(margin), to_p(typical.T), to_p(changed), applies
        # Not additive (a decision tree): score every variant row.
        base = self.lean.encoder.encode(columns)
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
        return p[0], p[1 : 1 + len(FEATURES)], p[1 + len(FEATURES) :], applies

    def _assess_one(self, patient: Patient) -> AssessmentResult:
        """One patient of an additive model in plain Python: same numbers, no array set-up."""
        shapes = self.shapes
        assert shapes is not None
        values = patient.__dict__
        terms = [shapes.term(name, values[name]) for name in FEATURES]
        margin = shapes.margin(terms)
        typical = [
            shapes.probability(margin - term + reference)
            for term, reference in zip(terms, self._reference_terms, strict=True)
        ]
        applies = self._applies_one(values)
        changed = [
            shapes.probability(margin - terms[k] + target if applies[c] else margin)
            for c, (k, target) in enumerate(self._target_terms)
        ]
        p = shapes.probability(margin)
        effects = [p - t for t in typical]
        numbers = np.round(
            np.array([p, *typical, *effects, *changed, *(p - x for x in changed)]), DECIMALS
        ).tolist()
        top = sorted(range(len(FEATURES)), key=lambda k: -abs(effects[k]))
        n_factors = len(FEATURES)
        direction = [
            1 if e > 0 else -1 if e < 0 else 0 for e in numbers[1 + n_factors : 1 + 2 * n_factors]
        ]
        band = bisect_right(AGE_BAND_EDGES_LIST, values["age"]) - 1
        peers = self._peer_groups[(values["gender"], band)]
        comparison = {**peers, "relative_risk": round(p / peers["average_risk"], 2)}
        return self._result(
            values,
            numbers,
            round(100 * p, 1),
            direction,
            top[: self.settings.top_factors],
            applies,
            comparison,
            self._warnings_one(patient),
        )

    def _applies_one(self, values: dict[str, Any]) -> list[bool]:
        bmi = values["bmi"]
        return [
            values["smoking_status"] == "smokes",
            bmi is not None and bmi > self.settings.healthy_bmi,
            values["avg_glucose_level"] > self.settings.healthy_glucose,
        ]

    def _warnings_one(self, patient: Patient) -> list[str]:
        if not self._may_warn(patient.__dict__):
            return []
        return self._warnings(patients_to_columns([patient])).get(0, [])

    def _may_warn(self, values: dict[str, Any]) -> bool:
        """Cheap check that lets the common, unremarkable patient skip building warnings."""
        if values["bmi"] is None:
            return True
        for name in NUMERIC_FEATURES:
            low, high = self.profile.ranges[name]
            if not low <= values[name] <= high:
                return True
        return any(values[name] in rare for name, rare in self.rare.items())

    def assess(self, patients: list[Patient]) -> list[AssessmentResult]:
        """One explained result per patient, in order."""
        if not patients:
            return []
        if len(patients) == 1 and self.shapes is not None:
            return [self._assess_one(patients[0])]
        with _no_garbage_collection():
            return self._assess_many(patients)

    def _assess_many(self, patients: list[Patient]) -> list[AssessmentResult]:
        columns = patients_to_columns(patients)
        probability, typical, changed, applies = self.probabilities(columns)
        effects = probability[None, :] - typical
        top = np.argsort(-np.abs(effects), axis=0, kind="stable")[: self.settings.top_factors]
        n_factors = len(FEATURES)
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
        return [
            self._result(
                patient.__dict__,
                rows[i],
                percent[i],
                direction[i],
                top_list[i],
                applies_rows[i],
                comparisons[i],
                warnings.get(i, []),
            )
            for i, patient in enumerate(patients)
        ]

    def _result(
        self,
        values: dict[str, Any],
        row: list[float],
        percent: float,
        direction: list[int],
        top: list[int],
        applies: list[bool],
        comparison: dict[str, Any],
        warnings: list[str],
    ) -> AssessmentResult:
        """The reply for one patient. ``row`` holds, rounded: probability, each factor's
        risk-if-typical, each factor's effect, each change's risk, each change's reduction."""
        n_factors, n_changes = len(FEATURES), len(self.changes)
        changed_at = 1 + 2 * n_factors
        p = row[0]
        names = self._factor_names
        return AssessmentResult(
            p,
            percent,
            self.risk_band(p),
            self.thresholds,
            comparison,
            [
                FactorResult(
                    names[k],
                    self._factor_labels[k],
                    values[names[k]],
                    self._factor_typical[k],
                    row[1 + k],
                    row[1 + n_factors + k],
                    _DIRECTIONS[direction[k]],
                )
                for k in top
            ],
            [
                WhatIfResult(
                    factor,
                    change,
                    values[factor],
                    target,
                    row[changed_at + c],
                    row[changed_at + n_changes + c],
                )
                for c, (factor, change, target) in enumerate(self.changes)
                if applies[c]
            ],
            warnings,
            self.model_tag,
            DISCLAIMER,
        )

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
