"""What-ifs only where the data show an effect for this patient; guideline advice otherwise.

A what-if is the model's risk with one modifiable factor at a healthy value, all else
unchanged. It is shown only where an age-adjusted effect of that factor *within the
patient's own range* excludes no effect, read from the evidence recorded with the model
(:class:`~stroke_risk.core.evidence.ReplyEvidence`, written by
``stroke_risk.validation.what_if_evidence``). Measured on the adults of the data set
(age-adjusted odds ratio per 50 mg/dL, 95% CI), glucose is 1.27 overall, but 1.13 (0.72 to
1.77) under 140 mg/dL and 1.16 (0.78 to 1.73) at 140 and above, while 140+ against under
140 is 1.81 (1.37 to 2.41): the overall slope is a gap between two clusters, a stand-in
for diabetes, not an effect of lowering glucose within either. So the glucose what-if
appears only for a patient whose own range shows an effect, and never lowers glucose past
that range's lower edge (the gap between ranges is not a what-if).

Smoking (current vs never 1.36, 0.92 to 2.02; former smokers have the highest crude rate,
as people who stopped after a stroke count as former smokers) and BMI (per 5 kg/m² 1.06,
0.95 to 1.19) show no effect these data can support, so they, blood pressure and glucose
at 140 mg/dL or above get ``guidance``: advice from a named guideline, labelled as not
coming from the model.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from stroke_risk.assessment.results import GuidanceResult, WhatIfResult, encoded
from stroke_risk.core.config import Settings
from stroke_risk.core.evidence import GLUCOSE_RANGE_EDGE, ReplyEvidence
from stroke_risk.core.schema import FEATURES
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.shape_functions import ShapeFunctions

GLUCOSE = "avg_glucose_level"
# 140 mg/dL average glucose ~ HbA1c 6.5%, the level that diagnoses diabetes (core.evidence).
DIABETES_RANGE_GLUCOSE = GLUCOSE_RANGE_EDGE

_SMOKING = GuidanceResult(
    "smoking_status",
    "Stopping smoking helps prevent strokes; offer support to stop (behavioural support "
    "with medication or very low nicotine products).",
    "No what-if from this model: its smoking effect is an association in cross-sectional "
    "data (people who stopped after a stroke are recorded as former smokers), not the "
    "effect of stopping.",
    "Guideline: NICE NG209, Tobacco: preventing uptake, promoting quitting and treating "
    "dependence (2021); AHA/ASA 2024 Guideline for the Primary Prevention of "
    "Stroke.",
)
_SMOKING_NOT_RECORDED = GuidanceResult(
    "smoking_status",
    "Ask about smoking and record the answer; if the patient smokes, offer support to stop.",
    "Smoking is not recorded: the estimate assumed a status (see not_recorded) and gives "
    "the range over every status.",
    "Guideline: NICE NG209, Tobacco: preventing uptake, promoting quitting and treating "
    "dependence (2021).",
)
_WEIGHT = GuidanceResult(
    "bmi",
    "Weight loss in overweight or obesity lowers blood pressure and the risk of diabetes, "
    "both causes of stroke; discuss support to manage weight.",
    "No what-if from this model: once age is accounted for, BMI shows no association with "
    "stroke in these data.",
    "Guideline: NICE NG246, Overweight and obesity management (2025).",
)
_BLOOD_PRESSURE = GuidanceResult(
    "hypertension",
    "Controlling blood pressure is the most effective way to prevent strokes; review "
    "treatment and targets.",
    "No what-if from this model: the data record a diagnosis of hypertension, not whether "
    "it is controlled.",
    "Guideline: NICE NG136, Hypertension in adults: diagnosis and management "
    "(2019); AHA/ASA 2024 Guideline for the Primary Prevention of Stroke.",
)
_DIABETES = GuidanceResult(
    GLUCOSE,
    "Assess for diabetes (HbA1c): this average glucose corresponds to an HbA1c of 6.5% or "
    "more, the level that diagnoses diabetes.",
    "Not from this model: the higher stroke rate at this glucose level in these data points "
    "to diabetes, which a test settles, rather than to an effect of glucose itself.",
    "Guideline: American Diabetes Association, Standards of Care in Diabetes-2025, "
    "section 2 (Diagnosis and Classification of Diabetes); NICE PH38, Type 2 diabetes: "
    "prevention in people at high risk.",
)


class WhatIfs:
    """The supported changes' targets and risks, and the guidance, for one or many."""

    def __init__(
        self,
        lean: LeanModel,
        settings: Settings,
        reference: Columns,
        shapes: ShapeFunctions | None,
        evidence: ReplyEvidence,
    ) -> None:
        self.settings = settings
        self._encoded_guidance: dict[tuple[int, ...], msgspec.Raw] = {}
        # One change per glucose range whose within-range effect excludes no effect: its
        # target is the healthy value, or the range's lower edge if that is higher.
        ranges = [r for r in evidence.glucose_ranges if r.excludes_no_effect]
        self.ranges = [(r.low, r.high) for r in ranges]
        changes = []
        for r in ranges:
            target = max(settings.healthy_glucose, r.low)
            changes.append((GLUCOSE, f"bring average glucose to {target:g} mg/dL", target))
        self.changes: tuple[tuple[str, str, Any], ...] = tuple(changes)
        encoder = lean.encoder
        self.slices = encoder.slices()
        # The encoded value of each change's target, written straight into encoded rows.
        self.change_rows = []
        for factor, _, target in self.changes:
            column = {**reference, factor: np.array([target], dtype=reference[factor].dtype)}
            self.change_rows.append(encoder.encode(column)[0, self.slices[factor]])
        # For additive models, the position and term of each change's target.
        self.target_terms = (
            [
                (FEATURES.index(factor), shapes.term(factor, target))
                for factor, _, target in self.changes
            ]
            if shapes is not None
            else None
        )

    def __len__(self) -> int:
        return len(self.changes)

    def applies_one(self, values: dict[str, Any]) -> list[bool]:
        """Which changes apply to one patient: glucose in the change's range and above
        its target."""
        glucose = values[GLUCOSE]
        return [
            low <= glucose and (high is None or glucose < high) and glucose > target
            for (low, high), (_, _, target) in zip(self.ranges, self.changes, strict=True)
        ]

    def applies(self, columns: Columns) -> list[np.ndarray]:
        """Which changes apply to each patient: one boolean array per change."""
        glucose = columns[GLUCOSE]
        out = []
        for (low, high), (_, _, target) in zip(self.ranges, self.changes, strict=True):
            inside = glucose >= low if high is None else (glucose >= low) & (glucose < high)
            out.append(inside & (glucose > target))
        return out

    def changed_margins_one(
        self, margin: float, terms: list[float], applies: list[bool]
    ) -> list[float]:
        """An additive model's log-odds with each change made, for one patient."""
        assert self.target_terms is not None  # nosec B101  # type narrowing, not a check
        return [
            margin - terms[k] + target if applies[c] else margin
            for c, (k, target) in enumerate(self.target_terms)
        ]

    def changed_margins(
        self, margin: np.ndarray, terms: np.ndarray, applies: list[np.ndarray]
    ) -> np.ndarray:
        """An additive model's log-odds with each change made: [changes, n]."""
        assert self.target_terms is not None  # nosec B101  # type narrowing, not a check
        changed = np.empty((len(self.changes), len(margin)))
        for c, (k, target) in enumerate(self.target_terms):
            changed[c] = np.where(applies[c], margin - terms[:, k] + target, margin)
        return changed

    def set_changed(self, variants: np.ndarray, first: int, applies: list[np.ndarray]) -> None:
        """In encoded variant rows ``first + c``, make change ``c`` where it applies."""
        for c, ((factor, _, _), row) in enumerate(zip(self.changes, self.change_rows, strict=True)):
            variants[first + c][applies[c], self.slices[factor]] = row

    def results(
        self,
        values: dict[str, Any],
        probability: list[float],
        reduction: list[float],
        applies: list[bool],
    ) -> list[WhatIfResult]:
        """The reply's ``what_if``: one entry per change that applies."""
        return [
            WhatIfResult(factor, change, values[factor], target, probability[c], reduction[c])
            for c, (factor, change, target) in enumerate(self.changes)
            if applies[c]
        ]

    def guidance_encoded(self, values: dict[str, Any]) -> msgspec.Raw:
        """:meth:`guidance`, encoded once for each combination of advice (a few dozen)."""
        advice = self.guidance(values)
        key = tuple(map(id, advice))  # the advice are this module's constants
        found = self._encoded_guidance.get(key)
        if found is None:
            found = self._encoded_guidance[key] = encoded(advice)
        return found

    def guidance(self, values: dict[str, Any]) -> list[GuidanceResult]:
        """Guideline advice, each naming its guideline, where it applies."""
        out = []
        if values[GLUCOSE] >= DIABETES_RANGE_GLUCOSE:
            out.append(_DIABETES)
        if values["hypertension"] == 1:
            out.append(_BLOOD_PRESSURE)
        if values["smoking_status"] == "smokes":
            out.append(_SMOKING)
        elif values["smoking_status"] == "Unknown":
            out.append(_SMOKING_NOT_RECORDED)
        bmi = values["bmi"]
        if bmi is not None and bmi > self.settings.healthy_bmi:
            out.append(_WEIGHT)
        return out
