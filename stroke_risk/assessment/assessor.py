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
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np

from stroke_risk.assessment.bands import risk_band
from stroke_risk.assessment.data_support import DataSupport
from stroke_risk.assessment.drivers import (
    Drivers,
    odds_ratios,
    reference_columns,
)
from stroke_risk.assessment.not_recorded import NotRecordedFields
from stroke_risk.assessment.patient_warnings import PatientWarnings
from stroke_risk.assessment.peers import PeerGroups
from stroke_risk.assessment.results import (
    DECIMALS,
    AssessmentResult,
    FactorResult,
    OutcomeResult,
    encoded,
    round_as_numpy,
)
from stroke_risk.assessment.what_ifs import WhatIfs
from stroke_risk.core.config import Settings
from stroke_risk.core.evidence import NO_EVIDENCE, ReplyEvidence
from stroke_risk.core.outcome import KAGGLE_HISTORY, OutcomeSummary
from stroke_risk.core.responses import DISCLAIMER, INTERVAL_NAME, RiskBand
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient
from stroke_risk.scoring.intervals import ProbabilityIntervals
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.shape_functions import ShapeFunctions, is_additive

_BANDS: tuple[RiskBand, ...] = ("low", "moderate", "high")  # by thresholds passed


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects: they hold no
    cycles, and collections triggered by their sheer number cost a third of a batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Scores:
    """The unrounded numbers behind a batch's replies."""

    probability: np.ndarray  # (n,)
    interval: np.ndarray | None  # (n, 2): low, high; None without bootstrap refits
    shares: np.ndarray  # (n, factors): log-odds shares against the reference patient
    changed: np.ndarray  # (changes, n): probability with each supported change made
    applies: list[np.ndarray]  # per change: whether it applies to each patient
    unrecorded_smoking: np.ndarray  # (n,): smoking not recorded, scored as assumed
    smoking_range: np.ndarray  # (n, 2): lowest, highest over known statuses (0 if recorded)


def patients_to_columns(patients: list[Patient]) -> Columns:
    """Validated patients -> one numpy array per field (a blank BMI becomes NaN)."""
    columns: Columns = {}
    fields = [patient.__dict__ for patient in patients]
    for name in FEATURES:
        values = list(map(itemgetter(name), fields))
        if name in NUMERIC_FEATURES:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            columns[name] = np.array(values, dtype=object)
    return columns


class RiskAssessor:
    """Scores patients with the lean model and explains each result.

    Results are :class:`~stroke_risk.assessment.results.AssessmentResult` Structs shaped like
    :class:`~stroke_risk.core.responses.Assessment` (the service declares that model for
    its OpenAPI document): building 10,000 pydantic objects would cost more than the model
    itself. ``encode_json`` turns them into the reply; ``as_builtins`` into dicts.
    """

    def __init__(
        self,
        lean: LeanModel,
        profile: TrainingProfile,
        settings: Settings,
        model_tag: str,
        intervals: ProbabilityIntervals | None = None,
        outcome: OutcomeSummary = KAGGLE_HISTORY,
        evidence: ReplyEvidence = NO_EVIDENCE,
    ) -> None:
        self.lean = lean
        self.profile = profile
        self.settings = settings
        self.model_tag = model_tag
        self.intervals = intervals
        # What the number is (the model's record): every reply names it.
        self.outcome = outcome
        self._outcome_result = OutcomeResult(
            outcome.kind, outcome.horizon_years, outcome.validation, outcome.label
        )
        self.evidence = evidence
        self.thresholds = tuple(settings.risk_band_thresholds)
        # Additive models are explained by swapping one field's term (see shape_functions).
        self.shapes = ShapeFunctions(lean) if is_additive(lean) else None
        self.drivers = Drivers(lean, profile, self.shapes, settings.top_factors)
        self._reference = encoded(self.drivers.reference)  # the same in every reply
        self.what_ifs = WhatIfs(lean, settings, reference_columns(profile), self.shapes, evidence)
        self.peers = PeerGroups(profile)
        bmi_fill = float(lean.encoder.medians[NUMERIC_FEATURES.index("bmi")])
        self.warnings = PatientWarnings(profile, bmi_fill)
        self.not_recorded = NotRecordedFields(profile, bmi_fill)
        self.support = DataSupport(profile, evidence, self.thresholds)  # type: ignore[arg-type]
        self._smoking = FEATURES.index("smoking_status")
        # The factors a patient's drivers are ranked from, by whether smoking is recorded.
        clinical = [k for k in range(len(FEATURES)) if self.drivers.clinical[k]]
        self._eligible = {False: clinical, True: [k for k in clinical if k != self._smoking]}
        self._smoking_terms = (
            [self.shapes.term("smoking_status", s) for s in self.not_recorded.known_smoking]
            if self.shapes is not None
            else None
        )

    def risk_band(self, probability: float) -> RiskBand:
        return risk_band(probability, self.thresholds)

    def scores(self, columns: Columns) -> Scores:
        """Every number behind the replies, unrounded, for patients given as columns.

        Smoking not recorded is scored as the assumed known status (never a learned
        "not recorded" effect), with the range over every known status beside it."""
        columns, unknown = self.not_recorded.assume(columns)
        applies = self.what_ifs.applies(columns)
        n = len(unknown)
        smoking_range = np.zeros((n, 2))
        if self.shapes is not None:
            terms = self.shapes.terms(columns)
            margin = self.shapes.margins(terms)
            changed = self.what_ifs.changed_margins(margin, terms, applies)
            to_p = self.shapes.probabilities
            if unknown.any():
                rows = np.flatnonzero(unknown)
                own = margin[rows] - terms[rows, self._smoking]
                known = to_p(own[None, :] + np.array(self._smoking_terms)[:, None])
                smoking_range[rows] = np.column_stack([known.min(axis=0), known.max(axis=0)])
            probability, changed = to_p(margin), to_p(changed)
            shares = self.drivers.shares_from_terms(terms)
        else:  # not additive (a decision tree): score variant rows, enumerate coalitions
            base = self.lean.encoder.encode(columns)
            n_variants = 1 + len(self.what_ifs)
            variants = np.repeat(base[None], n_variants, axis=0)
            self.what_ifs.set_changed(variants, first=1, applies=applies)
            p = self.lean.predict_encoded(variants.reshape(n_variants * n, -1))
            p = p.reshape(n_variants, n)
            probability, changed = p[0], p[1:]
            shares = self.drivers.shares_by_enumeration(base)
            if unknown.any():
                rows = np.flatnonzero(unknown)
                subset = {name: values[rows] for name, values in columns.items()}
                known = np.array(
                    [
                        self.lean.predict(
                            {**subset, "smoking_status": np.full(len(rows), s, dtype=object)}
                        )
                        for s in self.not_recorded.known_smoking
                    ]
                )
                smoking_range[rows] = np.column_stack([known.min(axis=0), known.max(axis=0)])
        if self.intervals is not None:
            low, high = self.intervals.interval(columns)
            interval = np.column_stack([low, high])
        else:
            interval = None
        return Scores(probability, interval, shares, changed, applies, unknown, smoking_range)

    def assess(self, patients: list[Patient]) -> list[AssessmentResult]:
        """One explained result per patient, in order."""
        if not patients:
            return []
        if len(patients) == 1 and self.shapes is not None:
            return [self._assess_one(patients[0])]
        with no_garbage_collection():
            return self._assess_many(patients)

    def _assess_one(self, patient: Patient) -> AssessmentResult:
        """One patient of an additive model in plain Python: same numbers, no array set-up
        beyond one rounding (a test checks the reply equals the batch path's for every
        adult of the data set)."""
        shapes = self.shapes
        assert shapes is not None  # nosec B101  # type narrowing, not a check
        given = patient.__dict__
        values = self.not_recorded.assume_one(given)
        unknown = values is not given
        term = shapes.term
        terms = [term(name, values[name]) for name in FEATURES]
        margin = shapes.margin(terms)
        applies = self.what_ifs.applies_one(values)
        to_p = shapes.probability
        changed = [to_p(m) for m in self.what_ifs.changed_margins_one(margin, terms, applies)]
        p = to_p(margin)
        shares = self.drivers.shares_one(terms)
        interval = self.intervals.interval_one(values) if self.intervals is not None else None
        smoking_range = [0.0, 0.0]
        if unknown:
            assert self._smoking_terms is not None  # nosec B101  # type narrowing
            own = margin - terms[self._smoking]
            known = [to_p(own + t) for t in self._smoking_terms]
            smoking_range = [min(known), max(known)]
        n = len(FEATURES)
        # One numpy rounding for the reply's numbers, as the batch path rounds its table.
        numbers = (
            np.array(
                [
                    p,
                    *(interval or (0.0, 0.0)),
                    *shares,
                    *changed,
                    *[p - x for x in changed],
                    *smoking_range,
                ]
            ).round(DECIMALS)
            + 0.0  # no "-0.0" in replies
        ).tolist()
        rounded = numbers[3 : 3 + n]
        # Clinical factors ranked by the rounded shares (ties in factor order), as the batch
        # path does; context factors apart; smoking not recorded never listed.
        eligible = self._eligible[unknown]
        top = sorted(eligible, key=[-abs(x) for x in rounded].__getitem__)
        top = top[: self.settings.top_factors]
        context = self.drivers.context
        other = sum(shares) - sum(shares[k] for k in top) - sum(shares[k] for k in context)
        numbers.insert(3, round_as_numpy(other))
        # Only the listed factors' odds ratios are shown, worked out (in plain Python) only
        # for the entries not already shared: math's exp may differ from numpy's in the
        # last place, but never once rounded (odds_ratio_of_rounded_share).
        warnings = self.warnings.one(given)
        return self._result(
            given,
            numbers,
            self.drivers.results(given, rounded, top),
            self.drivers.context_results(given, rounded),
            interval is not None,
            self.risk_band(numbers[0]),
            interval is not None and self.risk_band(numbers[1]) != self.risk_band(numbers[2]),
            round_as_numpy(100 * p, 10.0),
            applies,
            self.peers.compare_one(given["gender"], given["age"], p),
            warnings,
            self.support.one(given),
            unknown,
        )

    def _assess_many(self, patients: list[Patient]) -> list[AssessmentResult]:
        columns = patients_to_columns(patients)
        scores = self.scores(columns)
        probability, shares = scores.probability, scores.shares
        n = len(probability)
        rounded = np.abs(np.round(shares, DECIMALS))
        # Clinical factors ranked by the rounded shares; context and smoking not recorded
        # never ranked (they sort after every clinical factor and are dropped).
        eligible = np.repeat(self.drivers.clinical[None, :], n, axis=0)
        eligible[:, self._smoking] &= ~scores.unrecorded_smoking
        ranked = np.argsort(-np.where(eligible, rounded, -1.0), axis=1, kind="stable")
        top = ranked[:, : self.settings.top_factors]
        listed = np.take_along_axis(eligible, top, axis=1)
        context = self.drivers.context
        other = (
            shares.sum(axis=1)
            - np.where(listed, np.take_along_axis(shares, top, axis=1), 0.0).sum(axis=1)
            - shares[:, context].sum(axis=1)
        )
        interval = scores.interval if scores.interval is not None else np.zeros((n, 2))
        # Round everything in one call and turn it into Python floats per patient.
        table = np.round(
            np.column_stack(
                [
                    probability,
                    interval,
                    other,
                    shares,
                    scores.changed.T,
                    (probability[None] - scores.changed).T,
                    scores.smoking_range,
                ]
            ),
            DECIMALS,
        )
        table += 0.0  # no "-0.0" in replies
        rows = table.tolist()
        percent = np.round(100 * probability, 1).tolist()
        top_list = top.tolist()
        if not listed.all():  # more factors asked for than are eligible
            top_list = [
                [k for k, ok in zip(row, oks, strict=True) if ok]
                for row, oks in zip(top_list, listed.tolist(), strict=True)
            ]
        applies_rows = np.column_stack(scores.applies).tolist() if scores.applies else [[]] * n
        comparisons = self.peers.compare_many(columns["gender"], columns["age"], probability)
        warnings = self.warnings.many(columns)
        support = self.support.many(columns)
        unknown = scores.unrecorded_smoking.tolist()
        has_interval = scores.interval is not None
        # Bands of the rounded probability and of the interval's rounded ends, as
        # risk_band gives them one at a time.
        bands = np.searchsorted(self.thresholds, table[:, :3], side="right")
        band = [_BANDS[b] for b in bands[:, 0].tolist()]
        crosses = (has_interval & (bands[:, 1] != bands[:, 2])).tolist()
        rounded_shares = table[:, 4 : 4 + len(FEATURES)]
        contexts = self.drivers.context_many(columns, rounded_shares)
        listed_factors = self.drivers.listed_many(
            columns, rounded_shares, odds_ratios(rounded_shares), top_list
        )
        return [
            self._result(
                patient.__dict__,
                rows[i],
                listed_factors[i],
                contexts[i],
                has_interval,
                band[i],
                crosses[i],
                percent[i],
                applies_rows[i],
                comparisons[i],
                warnings.get(i, []),
                support[i],
                unknown[i],
            )
            for i, patient in enumerate(patients)
        ]

    def _result(
        self,
        values: dict[str, Any],
        row: list[float],
        factors: list[FactorResult],
        context: msgspec.Raw,
        has_interval: bool,
        band: RiskBand,
        crosses_band_edge: bool,
        percent: float,
        applies: list[bool],
        comparison: dict[str, Any],
        warnings: list[str],
        support: tuple[Any, ...],
        unrecorded_smoking: bool,
    ) -> AssessmentResult:
        """The reply for one patient. ``row`` holds, rounded: probability, the interval's
        ends, the unlisted factors' share, each factor's share, each change's risk, each
        change's reduction, and the range over smoking statuses (if not recorded).
        ``values`` are the patient's fields as given."""
        n_factors, n_changes = len(FEATURES), len(self.what_ifs)
        changed_at = 4 + n_factors
        data_support, support_note, beyond, fields, beyond_note, caveat = support
        return AssessmentResult(
            row[0],
            row[1:3] if has_interval else None,
            percent,
            band,
            self.thresholds,
            comparison,
            self._reference,
            factors,
            context,
            row[3],
            self.what_ifs.results(
                values,
                row[changed_at : changed_at + n_changes],
                row[changed_at + n_changes : changed_at + 2 * n_changes],
                applies,
            ),
            self.what_ifs.guidance_encoded(values),
            warnings,
            INTERVAL_NAME,
            crosses_band_edge,
            data_support,
            support_note,
            beyond,
            fields,
            beyond_note,
            caveat,
            self.not_recorded.results(
                values["bmi"] is None, row[-2:] if unrecorded_smoking else None
            ),
            self.model_tag,
            DISCLAIMER,
            self._outcome_result,
        )
