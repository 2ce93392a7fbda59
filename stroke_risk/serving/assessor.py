"""From calibrated probability to what a GP acts on: band, comparison, drivers, what-ifs.

The assessor composes one small module per concern (:mod:`.bands`, :mod:`.peers`,
:mod:`.drivers`, :mod:`.what_ifs`, :mod:`.patient_warnings`) and owns only the scoring
they share. Everything is computed for many patients at once: each patient is scored as
given, once with each factor set to the training population's typical value, and once
with each modifiable factor at a healthy value. All of those rows go through the model in
one call, so a batch of 10,000 patients costs a few numpy operations rather than 140,000
model calls. A single patient of an additive model takes a plain-Python path with the
same numbers and no array set-up.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from stroke_risk.core.config import Settings
from stroke_risk.core.responses import DISCLAIMER, RiskBand
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.shape_functions import ShapeFunctions, is_additive
from stroke_risk.serving.bands import risk_band
from stroke_risk.serving.drivers import Drivers, reference_columns
from stroke_risk.serving.patient_warnings import PatientWarnings
from stroke_risk.serving.peers import PeerGroups
from stroke_risk.serving.results import DECIMALS, AssessmentResult
from stroke_risk.serving.what_ifs import WhatIfs


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

    Results are :class:`~stroke_risk.serving.results.AssessmentResult` Structs shaped like
    :class:`~stroke_risk.core.responses.Assessment` (the service declares that model for
    its OpenAPI document): building 10,000 pydantic objects would cost more than the model
    itself. ``encode_json`` turns them into the reply; ``msgspec.to_builtins`` into dicts.
    """

    def __init__(
        self, lean: LeanModel, profile: TrainingProfile, settings: Settings, model_tag: str
    ) -> None:
        self.lean = lean
        self.profile = profile
        self.settings = settings
        self.model_tag = model_tag
        self.thresholds = tuple(settings.risk_band_thresholds)
        # Additive models are explained by swapping one field's term (see shape_functions).
        self.shapes = ShapeFunctions(lean) if is_additive(lean) else None
        self.drivers = Drivers(lean, profile, self.shapes, settings.top_factors)
        self.what_ifs = WhatIfs(lean, settings, reference_columns(profile), self.shapes)
        self.peers = PeerGroups(profile)
        self.warnings = PatientWarnings(profile)

    def risk_band(self, probability: float) -> RiskBand:
        return risk_band(probability, self.thresholds)

    def probabilities(
        self, columns: Columns
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(as given [n], each factor typical [F, n], each change applied [C, n], applies)."""
        applies = self.what_ifs.applies(columns)
        if self.shapes is not None:
            terms = self.shapes.terms(columns)
            margin = self.shapes.margins(terms)
            typical = self.drivers.typical_margins(margin, terms)
            changed = self.what_ifs.changed_margins(margin, terms, applies)
            to_p = self.shapes.probabilities
            return to_p(margin), to_p(typical.T), to_p(changed), applies
        # Not additive (a decision tree): score every variant row.
        base = self.lean.encoder.encode(columns)
        n_variants = 1 + len(FEATURES) + len(self.what_ifs)
        variants = np.repeat(base[None], n_variants, axis=0)
        self.drivers.set_typical(variants, first=1)
        self.what_ifs.set_changed(variants, first=1 + len(FEATURES), applies=applies)
        n = len(base)
        p = self.lean.predict_encoded(variants.reshape(n_variants * n, -1)).reshape(n_variants, n)
        return p[0], p[1 : 1 + len(FEATURES)], p[1 + len(FEATURES) :], applies

    def assess(self, patients: list[Patient]) -> list[AssessmentResult]:
        """One explained result per patient, in order."""
        if not patients:
            return []
        if len(patients) == 1 and self.shapes is not None:
            return [self._assess_one(patients[0])]
        with _no_garbage_collection():
            return self._assess_many(patients)

    def _assess_one(self, patient: Patient) -> AssessmentResult:
        """One patient of an additive model in plain Python: same numbers, no array set-up."""
        shapes = self.shapes
        assert shapes is not None
        values = patient.__dict__
        terms = [shapes.term(name, values[name]) for name in FEATURES]
        margin = shapes.margin(terms)
        typical = [shapes.probability(m) for m in self.drivers.typical_margins_one(margin, terms)]
        applies = self.what_ifs.applies_one(values)
        changed = [
            shapes.probability(m) for m in self.what_ifs.changed_margins_one(margin, terms, applies)
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
        warnings = (
            self.warnings.many(patients_to_columns([patient])).get(0, [])
            if self.warnings.may_warn(values)
            else []
        )
        return self._result(
            values,
            numbers,
            round(100 * p, 1),
            direction,
            top[: self.settings.top_factors],
            applies,
            self.peers.compare_one(values["gender"], values["age"], p),
            warnings,
        )

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
        comparisons = self.peers.compare_many(columns["gender"], columns["age"], probability)
        warnings = self.warnings.many(columns)
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
        n_factors, n_changes = len(FEATURES), len(self.what_ifs)
        changed_at = 1 + 2 * n_factors
        p = row[0]
        return AssessmentResult(
            p,
            percent,
            self.risk_band(p),
            self.thresholds,
            comparison,
            self.drivers.results(
                values,
                row[1 : 1 + n_factors],
                row[1 + n_factors : changed_at],
                direction,
                top,
            ),
            self.what_ifs.results(
                values,
                row[changed_at : changed_at + n_changes],
                row[changed_at + n_changes : changed_at + 2 * n_changes],
                applies,
            ),
            warnings,
            self.model_tag,
            DISCLAIMER,
        )
