"""The comparison a GP shows the patient: the average risk of training patients like them.

Peers are the training patients of the same sex and age band; where fewer than
``MIN_PEERS`` of them exist (e.g. ``Other``), both sexes of that age band are used, and the
group's name says so.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

from stroke_risk.assessment.results import DECIMALS, round_as_numpy
from stroke_risk.core.age_bands import AGE_BANDS
from stroke_risk.core.schema import categories
from stroke_risk.scoring.profile import TrainingProfile

MIN_PEERS = 20  # fewer training patients than this in a sex/age group: compare with both sexes
AGE_BAND_EDGES = np.array([low for low, _, _ in AGE_BANDS])
AGE_BAND_EDGES_LIST = AGE_BAND_EDGES.tolist()


class PeerGroups:
    """Each (sex, age band)'s comparison, computed once from the training profile."""

    def __init__(self, profile: TrainingProfile) -> None:
        self.groups: dict[tuple[str, int], dict[str, Any]] = {}
        for sex in categories("gender"):
            for index, (_, _, band) in enumerate(AGE_BANDS):
                if TrainingProfile.peer_key("all", band) not in profile.peers:
                    continue  # no one scored falls in it (under 18)
                peers = profile.peers.get(TrainingProfile.peer_key(sex, band))
                label = sex
                if peers is None or peers.patients < MIN_PEERS:
                    label = "all sexes"
                    peers = profile.peers[TrainingProfile.peer_key("all", band)]
                self.groups[(sex, index)] = {
                    "group": f"{label}, {band}",
                    "patients": peers.patients,
                    "average_risk": round(peers.mean_predicted, DECIMALS),
                    "observed_rate": round(peers.observed_rate, DECIMALS),
                }

    def compare_one(self, sex: str, age: float, probability: float) -> dict[str, Any]:
        """One patient's peer group and relative risk, in plain Python (rounded as numpy
        rounds :meth:`compare_many`'s)."""
        peers = self.groups[(sex, bisect_right(AGE_BAND_EDGES_LIST, age) - 1)]
        relative = round_as_numpy(probability / peers["average_risk"], 100.0)
        return {**peers, "relative_risk": relative}

    def compare_many(
        self, sexes: np.ndarray, ages: np.ndarray, probability: np.ndarray
    ) -> list[dict[str, Any]]:
        """Each patient's peer group and relative risk, in order."""
        bands = (np.searchsorted(AGE_BAND_EDGES, ages, side="right") - 1).tolist()
        average = np.array(
            [
                self.groups[(sex, band)]["average_risk"]
                for sex, band in zip(sexes, bands, strict=True)
            ]
        )
        relative = np.round(probability / average, 2).tolist()
        return [
            {**self.groups[(sex, band)], "relative_risk": relative[i]}
            for i, (sex, band) in enumerate(zip(sexes, bands, strict=True))
        ]
