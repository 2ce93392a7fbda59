"""Requests for the load test: realistic patients, batches of varied size, and bad requests.

Patients are rows of the data set when it is present, so the load has the population's
mix of ages, categories and missing BMIs; without it they are drawn from the schema alone
(every category, numbers across the accepted limits), which is valid but not realistic.
The deliberately invalid requests each name the status the API promises for them.
"""

from __future__ import annotations

import json
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from stroke_risk.core.patient_tables import DataError, load_patients_csv
from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    categories,
    numeric_limits,
)

logger = logging.getLogger(__name__)

Patient = dict[str, object]

# Share of synthesised patients without a BMI: the data set lacks it for about 4% of rows.
SYNTHETIC_MISSING_BMI = 0.04


@dataclass(frozen=True)
class InvalidRequest:
    """A request the API must refuse, and the status it must refuse it with."""

    name: str
    path: str
    body: bytes
    expected_status: int
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def synthetic_patient(rng: random.Random) -> Patient:
    """A valid patient drawn from the schema alone: every category, numbers within limits."""
    patient: Patient = {}
    for name in FEATURES:
        if name in CATEGORICAL_FEATURES:
            patient[name] = rng.choice(categories(name))
        elif name in FLAG_FEATURES:
            patient[name] = rng.choice((0, 1))
        elif name in NUMERIC_FEATURES:
            low, high = numeric_limits(name)
            patient[name] = round(rng.uniform(low, high), 2)
    if rng.random() < SYNTHETIC_MISSING_BMI:
        patient["bmi"] = None
    return patient


class PatientSampler:
    """Draws patients (data set rows, or synthetic ones) and batches of them."""

    def __init__(self, patients: list[Patient] | None, seed: int | None = None) -> None:
        self.patients = patients or []
        self.rng = random.Random(seed)  # nosec B311  # synthetic load-test patients, not secrets

    @classmethod
    def from_csv(cls, path: Path, seed: int | None = None) -> PatientSampler:
        """Rows of the CSV at ``path`` that pass the schema; synthetic patients if none."""
        try:
            parsed = load_patients_csv(path)
        except DataError as exc:
            logger.warning("No patients from %s (%s): synthesising them from the schema", path, exc)
            return cls(None, seed)
        frame = parsed.valid[list(FEATURES)].astype(object)
        # NaN is not JSON: a missing BMI travels as null, as a caller would send it.
        records = frame.where(frame.notna(), None).to_dict(orient="records")
        logger.info("Drawing load-test patients from %d rows of %s", len(records), path)
        return cls(records, seed)

    @property
    def source(self) -> str:
        return "data set" if self.patients else "schema"

    def patient(self) -> Patient:
        if self.patients:
            return dict(self.rng.choice(self.patients))
        return synthetic_patient(self.rng)

    def batch_size(self, low: int = 5, high: int = 200) -> int:
        """Log-uniform between ``low`` and ``high``: mostly small batches, some large ones."""
        return min(high, int(math.exp(self.rng.uniform(math.log(low), math.log(high + 1)))))

    def batch(self, size: int) -> list[Patient]:
        return [self.patient() for _ in range(size)]

    def invalid_requests(self, api_key: str | None = None) -> list[InvalidRequest]:
        """One of each kind of bad request, built around a valid patient."""
        patient = self.patient()
        too_old = numeric_limits("age")[1] + 1

        def body(value: object) -> bytes:
            return json.dumps(value).encode()

        requests = [
            InvalidRequest(
                "age above the limit", "/predict", body({**patient, "age": too_old}), 400
            ),
            InvalidRequest(
                "unknown work type", "/predict", body({**patient, "work_type": "astronaut"}), 400
            ),
            InvalidRequest(
                "missing field",
                "/predict",
                body({k: v for k, v in patient.items() if k != "smoking_status"}),
                400,
            ),
            InvalidRequest("unknown field", "/predict", body({**patient, "weight": 70}), 400),
            InvalidRequest("age as text", "/predict", body({**patient, "age": "forty"}), 400),
            InvalidRequest("not JSON", "/predict", b"{'gender': ", 400),
            InvalidRequest("empty batch", "/predict_batch", body({"patients": []}), 400),
            InvalidRequest(
                "form content type",
                "/predict",
                body(patient),
                415,
                content_type="application/x-www-form-urlencoded",
            ),
        ]
        if api_key:
            requests.append(
                InvalidRequest(
                    "wrong API key",
                    "/predict",
                    body(patient),
                    401,
                    headers={"Authorization": f"Bearer not-{api_key}"},
                )
            )
        return requests
