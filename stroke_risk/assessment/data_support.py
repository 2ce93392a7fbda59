"""Where the data stand behind one patient: thin support, values beyond the data, band
edges the interval crosses, and age bands the model barely ranks.

Each is a flag or a sentence in the reply, decided from the training profile and the
model's own evidence record, never from a number written here:

- **Beyond the data**: a number outside the adults' training range (age 83-120, glucose
  above 272 mg/dL, BMI beyond 97.6...) is still scored, but marked as an extrapolation,
  with the range the model covers (values outside the schema's hard limits are refused
  before they get here, and glucose under the data's minimum is refused as a likely
  mmol/L value).
- **Thin support**: few strokes among training patients of the same sex and age band
  (fewer than :data:`MIN_EVENTS`, the subgroup table's own "too few to judge" line), or
  a category rare in training (fewer than ``RARE_CATEGORY_COUNT`` adults: sex Other,
  never worked). The bootstrap interval hardly widens there (median log-odds width 0.87
  overall, 1.02 at 18-39 with 6 strokes: docs/explanation/what-the-reply-says.md), so the
  flag says what the interval cannot.
- **Band edge**: the interval's ends fall in different risk bands.
- **Ranking caveat**: the model's out-of-fold AUC within the patient's age band is below
  :data:`~stroke_risk.core.evidence.POOR_DISCRIMINATION_AUC`; the sentence quotes the
  record's numbers. No record, no caveat.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

from stroke_risk.assessment.bands import risk_band
from stroke_risk.core.age_bands import AGE_BANDS
from stroke_risk.core.evidence import MIN_EVENTS_TO_JUDGE, AgeBandRanking, ReplyEvidence
from stroke_risk.core.schema import NUMERIC_FEATURES, Patient, unit
from stroke_risk.scoring.lean import Columns
from stroke_risk.scoring.profile import TrainingProfile

# Fewer strokes than this among the training patients of a sex and age band: too few to
# judge the model there (the subgroup table's own line).
MIN_EVENTS = MIN_EVENTS_TO_JUDGE

_BAND_EDGES = [low for low, _, _ in AGE_BANDS]
_BAND_NAMES = [band for _, _, band in AGE_BANDS]
_SEX_WORDS = {"Female": "women", "Male": "men", "Other": "patients of sex Other"}


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _unit(name: str) -> str:
    return "years" if name == "age" else unit(name) or ""


def _words(name: str) -> str:
    """'age', 'average glucose', 'BMI': a field's title as it reads inside a sentence."""
    title = Patient.model_fields[name].title or name
    return title if title.isupper() else title.lower()


def _interval(ci: tuple[float, float] | None) -> str:
    return f" (95% CI {ci[0]:.2f} to {ci[1]:.2f})" if ci is not None else ""


def ranking_sentence(ranking: AgeBandRanking, method: str) -> str:
    """The caveat for one age band, quoting the validation record."""
    assert ranking.roc_auc is not None  # nosec B101  # only called where ranks_poorly
    text = (
        f"Within the {ranking.band} age band the model barely ranks patients: AUC "
        f"{ranking.roc_auc:.2f}{_interval(ranking.roc_auc_ci)} among {ranking.patients} "
        f"adults ({ranking.strokes} strokes)"
    )
    if ranking.calibration_slope is not None:
        text += (
            f", calibration slope {ranking.calibration_slope:.2f}"
            f"{_interval(ranking.calibration_slope_ci)}"
        )
    text += (
        ". Much of the number comes from the age band itself; within it, this patient's "
        "place is uncertain"
    )
    return text + (f" ({method})." if method else ".")


class DataSupport:
    """The reply's data-support, beyond-the-data, band-edge and ranking fields."""

    def __init__(
        self,
        profile: TrainingProfile,
        evidence: ReplyEvidence,
        thresholds: tuple[float, float],
    ) -> None:
        self.thresholds = thresholds
        self.ranges = [(name, *map(float, profile.ranges[name])) for name in NUMERIC_FEATURES]
        self._low = np.array([low for _, low, _ in self.ranges])
        self._high = np.array([high for _, _, high in self.ranges])
        # (sex, band index) -> note, for the groups with too few strokes.
        self.thin_groups: dict[tuple[str, int], str] = {}
        for sex, words in _SEX_WORDS.items():
            for index, band in enumerate(_BAND_NAMES):
                if TrainingProfile.peer_key("all", band) not in profile.peers:
                    continue  # no adult falls in it (under 18)
                group = profile.peers.get(TrainingProfile.peer_key(sex, band))
                strokes = group.strokes if group is not None else 0
                patients = group.patients if group is not None else 0
                if strokes < MIN_EVENTS:
                    self.thin_groups[(sex, index)] = (
                        f"few training patients like this one: {strokes} strokes among "
                        f"{patients} {words} aged {band} in the training data (fewer than "
                        f"{MIN_EVENTS}); the interval does not widen to show it"
                    )
        self.rare = {
            name: {value: profile.category_counts[name].get(value, 0) for value in values}
            for name, values in profile.rare_categories().items()
            if values
        }
        self.band_caveats: list[str | None] = []
        for band in _BAND_NAMES:
            ranking = evidence.ranking(band)
            if ranking is not None and ranking.ranks_poorly:
                self.band_caveats.append(ranking_sentence(ranking, evidence.ranking_method))
            else:
                self.band_caveats.append(None)

        # (sex, band, rare-category values) -> _support's answer, as met.
        self._supports: dict[tuple[Any, ...], tuple[str, str | None]] = {}

    def crosses_band_edge(self, low: float, high: float) -> bool:
        return risk_band(low, self.thresholds) != risk_band(high, self.thresholds)

    def one(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """(data_support, note, beyond_data, fields, beyond note, ranking caveat)."""
        band = bisect_right(_BAND_EDGES, values["age"]) - 1
        support, note = self._support_of((values["gender"], band, *(values[n] for n in self.rare)))
        fields = []
        parts = []
        for name, low, high in self.ranges:
            value = values[name]
            if value is not None and not low <= value <= high:
                fields.append(name)
                parts.append(
                    f"{_words(name)} {_number(value)} {_unit(name)} (the data cover "
                    f"{_number(low)} to {_number(high)} {_unit(name)})"
                )
        return (
            support,
            note,
            bool(fields),
            fields,
            "Beyond the data, extrapolated: " + "; ".join(parts) + "." if parts else None,
            self.band_caveats[band],
        )

    def _support_of(self, key: tuple[Any, ...]) -> tuple[str, str | None]:
        """:meth:`_support` for (sex, band, rare-category values), kept once worked out (a
        few dozen combinations)."""
        found = self._supports.get(key)
        if found is None:
            found = self._supports[key] = self._support(*key)
        return found

    def _support(self, sex: str, band: int, *rare: Any) -> tuple[str, str | None]:
        """("thin" or "adequate", the note saying why) for a patient of this sex, age
        band and values of the rare-category fields."""
        notes = []
        group_note = self.thin_groups.get((sex, band))
        if group_note is not None:
            notes.append(group_note)
        for (name, counts), value in zip(self.rare.items(), rare, strict=True):
            if value in counts:
                notes.append(
                    f"{Patient.model_fields[name].title} '{value}' is rare in the training "
                    f"data ({counts[value]} adults)"
                )
        if not notes:
            return "adequate", None
        return "thin", "; ".join(notes).capitalize() + "."

    def many(self, columns: Columns) -> list[tuple[Any, ...]]:
        """:meth:`one` for every patient. Only values beyond the data need a patient's own
        sentence; every other reply is fixed by the patient's sex, age band and rare
        categories, so each such combination is worked out once per batch and its entry
        shared."""
        numbers = np.column_stack([columns[name] for name, _, _ in self.ranges])
        with np.errstate(invalid="ignore"):
            outside = ((numbers < self._low) | (numbers > self._high)).any(axis=1)
        bands = (np.searchsorted(_BAND_EDGES, columns["age"], side="right") - 1).tolist()
        keys = [columns["gender"].tolist(), bands]
        keys += [columns[name].tolist() for name in self.rare]
        shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # the whole entry, per batch
        out = []
        for key in zip(*keys, strict=True):
            entry = shared.get(key)
            if entry is None:
                support, note = self._support_of(key)
                entry = (support, note, False, [], None, self.band_caveats[key[1]])
                shared[key] = entry
            out.append(entry)
        names = list(columns)
        for i in np.flatnonzero(outside).tolist():
            values = {name: columns[name][i] for name in names}
            if values["bmi"] != values["bmi"]:  # NaN: blank
                values["bmi"] = None
            out[i] = self.one(values)
        return out
