"""What the service needs to know about the training data, stored with the model.

The reference patient (for explanations), the range of each number (for out-of-range
warnings), the rare categories and the average risk by sex and age band (for the
comparison a GP shows the patient) all come from the training split, so the service
never needs the data set itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from stroke_risk.core.age_bands import age_band
from stroke_risk.core.schema import CATEGORICAL_FEATURES, FLAG_FEATURES, NUMERIC_FEATURES, TARGET

if TYPE_CHECKING:  # serving loads profiles without pandas
    import numpy as np
    import pandas as pd

RARE_CATEGORY_COUNT = 30


class PeerGroup(BaseModel):
    """Training patients of one sex and age band."""

    patients: int
    strokes: int
    observed_rate: float
    mean_predicted: float


class TrainingProfile(BaseModel):
    """Facts about the training split that the service uses to explain a prediction."""

    reference: dict[str, float | int | str]
    ranges: dict[str, tuple[float, float]]
    category_counts: dict[str, dict[str, int]]
    peers: dict[str, PeerGroup]  # key "<sex>|<age band>", and "all|<age band>"

    @staticmethod
    def peer_key(sex: str, band: str) -> str:
        return f"{sex}|{band}"

    def rare_categories(self) -> dict[str, list[str]]:
        return {
            name: [value for value, n in counts.items() if n < RARE_CATEGORY_COUNT]
            for name, counts in self.category_counts.items()
        }


def build_profile(train: pd.DataFrame, predicted: np.ndarray) -> TrainingProfile:
    """Summarise the training split; ``predicted`` is the model's risk for each of its rows."""
    reference: dict[str, float | int | str] = {}
    for name in NUMERIC_FEATURES:
        reference[name] = round(float(train[name].median()), 1)
    for name in FLAG_FEATURES + CATEGORICAL_FEATURES:
        mode = train[name].mode().iloc[0]
        reference[name] = int(mode) if name in FLAG_FEATURES else str(mode)
    ranges = {
        name: (float(train[name].min()), float(train[name].max())) for name in NUMERIC_FEATURES
    }
    counts = {
        name: {str(k): int(v) for k, v in train[name].value_counts().items()}
        for name in CATEGORICAL_FEATURES
    }
    frame = train.assign(_band=train["age"].map(age_band), _p=predicted)
    peers: dict[str, PeerGroup] = {}
    for sex_column in ("gender", None):
        keys = ["_band"] if sex_column is None else [sex_column, "_band"]
        for key, group in frame.groupby(keys):
            sex, band = ("all", key[0]) if sex_column is None else key
            peers[TrainingProfile.peer_key(str(sex), str(band))] = PeerGroup(
                patients=len(group),
                strokes=int(group[TARGET].sum()),
                observed_rate=float(group[TARGET].mean()),
                mean_predicted=float(group["_p"].mean()),
            )
    return TrainingProfile(reference=reference, ranges=ranges, category_counts=counts, peers=peers)
