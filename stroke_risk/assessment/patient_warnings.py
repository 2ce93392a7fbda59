"""Warnings that travel with an estimate: where it extrapolates or assumes something.

A number outside the range seen in training, a blank BMI (a typical value is assumed), a
category too rare in training to estimate on its own and a record that contradicts itself
(work type "children" for an adult) each get one sentence a GP can read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stroke_risk.core.schema import NUMERIC_FEATURES
from stroke_risk.scoring.lean import Columns
from stroke_risk.scoring.profile import TrainingProfile


class PatientWarnings:
    """Builds the warnings of one patient or of many, from the training profile."""

    def __init__(self, profile: TrainingProfile, bmi_fill: float) -> None:
        self.profile = profile
        # The BMI the model fills in for a blank one (its imputer's median over every
        # development row), which is what the sentence must name: not the adults' median.
        self.bmi_fill = round(float(bmi_fill), 1)
        self.rare = profile.rare_categories()
        # The one-patient check's inputs as plain tuples (it runs on every request).
        self._ranges = [(name, *map(float, profile.ranges[name])) for name in NUMERIC_FEATURES]
        self._rare = [(name, frozenset(values)) for name, values in self.rare.items() if values]

    def may_warn(self, values: dict[str, Any]) -> bool:
        """Cheap check that lets the common, unremarkable patient skip building warnings."""
        if values["bmi"] is None or values["work_type"] == "children":
            return True
        for name, low, high in self._ranges:
            if not low <= values[name] <= high:
                return True
        for name, rare in self._rare:
            if values[name] in rare:
                return True
        return False

    def one(self, values: dict[str, Any]) -> list[str]:
        """One patient's warnings (``bmi`` None when blank), in plain Python: the same
        sentences, in the same order, as :meth:`many` gives that patient (a test checks
        every adult of the data set)."""
        if not self.may_warn(values):
            return []
        out = []
        for name, low, high in self._ranges:
            value = values[name]
            if value is not None and not low <= value <= high:
                out.append(
                    f"{name} {value:g} is outside the range seen in training "
                    f"({low:g} to {high:g}): the estimate is an extrapolation."
                )
        if values["bmi"] is None:
            out.append(f"BMI not measured: a typical BMI ({self.bmi_fill:g}) was assumed.")
        if values["work_type"] == "children":
            out.append(
                "work_type 'children' is recorded for an adult: check the record (the "
                "estimate uses it as entered)."
            )
        for name, rare in self._rare:
            value = values[name]
            if value in rare:
                n = self.profile.category_counts[name].get(value, 0)
                out.append(
                    f"{name} '{value}' is rare in the training data ({n} patients): "
                    "the estimate rests on the other factors."
                )
        return out

    def many(self, columns: Columns) -> dict[int, list[str]]:
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
                    f"BMI not measured: a typical BMI ({self.bmi_fill:g}) was assumed."
                )
        for i in np.flatnonzero(columns["work_type"] == "children").tolist():
            flagged.setdefault(i, []).append(
                "work_type 'children' is recorded for an adult: check the record (the "
                "estimate uses it as entered)."
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
