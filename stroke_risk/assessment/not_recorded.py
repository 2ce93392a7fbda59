"""Fields the record does not hold: the same rule for each, and never a learned effect.

The data set records smoking as "Unknown" for 30% of its rows (most of the children), and
a model fitted with that category learns a "not recorded" effect (x1.09 for adults here):
a property of how the data were collected, not of the patient. The project refused the
same for a blank BMI (filled with a typical value, no missing-value indicator), so smoking
"Unknown" is treated alike: the estimate uses the most common known status among the
training adults, and beside it the range of estimates over every known status (never,
former, current), as the FHIR path shows a range over fields an EHR does not record.
Smoking "Unknown" is therefore never a driver: its share is that of the assumed status.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stroke_risk.assessment.results import NotRecordedResult
from stroke_risk.core.schema import categories
from stroke_risk.scoring.lean import Columns
from stroke_risk.scoring.profile import TrainingProfile

NOT_RECORDED = "Unknown"  # the data set's spelling of "smoking status not recorded"
SMOKING = "smoking_status"


class NotRecordedFields:
    """The values assumed for unrecorded fields, and the sentences that say so."""

    def __init__(self, profile: TrainingProfile, bmi_fill: float) -> None:
        self.known_smoking = tuple(s for s in categories(SMOKING) if s != NOT_RECORDED)
        counts = profile.category_counts[SMOKING]
        self.assumed_smoking = max(self.known_smoking, key=lambda s: counts.get(s, 0))
        # The value the model fills in for a blank BMI (its imputer's median, fitted on
        # every development row): the reply names this value, not the adults' median.
        self.bmi_fill = round(float(bmi_fill), 1)
        self._bmi = NotRecordedResult(
            "bmi",
            self.bmi_fill,
            None,
            f"BMI not measured: a typical BMI ({self.bmi_fill:g}) was assumed.",
        )
        self._smoking_note = (
            f"Smoking not recorded: scored as '{self.assumed_smoking}' (the most common "
            "status among the training adults); the range covers every known status. "
            "Record it to settle the estimate."
        )

    def assume(self, columns: Columns) -> tuple[Columns, np.ndarray]:
        """``columns`` with unrecorded smoking replaced by the assumed status, and which
        patients it was replaced for."""
        unknown = columns[SMOKING] == NOT_RECORDED
        if not unknown.any():
            return columns, unknown
        smoking = columns[SMOKING].copy()
        smoking[unknown] = self.assumed_smoking
        return {**columns, SMOKING: smoking}, unknown

    def assume_one(self, values: dict[str, Any]) -> dict[str, Any]:
        if values[SMOKING] != NOT_RECORDED:
            return values
        return {**values, SMOKING: self.assumed_smoking}

    def results(
        self, bmi_blank: bool, smoking_range: list[float] | None
    ) -> list[NotRecordedResult]:
        """The reply's ``not_recorded``: smoking (with its range) and BMI, where blank."""
        out = []
        if smoking_range is not None:
            out.append(
                NotRecordedResult(SMOKING, self.assumed_smoking, smoking_range, self._smoking_note)
            )
        if bmi_blank:
            out.append(self._bmi)
        return out
