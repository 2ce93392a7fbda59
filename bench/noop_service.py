"""The framework's ceiling: a BentoML service that validates the same patient and returns a
constant. The real service is measured as a ratio against this, in the same run.

Its `/predict_batch` validates the same batch and answers with one typical result (about
1.4 KB, as the service's average is 1.3 KB) per patient: what BentoML and the transfer of
the reply cost, without the scoring and explanations."""

from __future__ import annotations

import bentoml
import msgspec
from pydantic import BaseModel
from starlette.responses import Response

from stroke_risk.core.config import get_settings
from stroke_risk.core.schema import Patient, PatientBatch
from stroke_risk.serving.request_timeout import install as install_request_timeout

CONSTANT = b'{"probability": 0.05, "risk_band": "moderate"}'
# The service's reply for a 67-year-old smoker with hypertension (less one what-if).
TYPICAL_RESULT = msgspec.json.encode(
    {
        "probability": 0.1391,
        "percent": 13.9,
        "risk_band": "moderate",
        "risk_band_thresholds": [0.05, 0.15],
        "comparison": {
            "group": "Female, 60-69",
            "patients": 280,
            "average_risk": 0.0909,
            "observed_rate": 0.0679,
            "relative_risk": 1.53,
        },
        "contributing_factors": [
            {"factor": f, "label": f, "value": 67.0, "typical_value": 45.0,
             "risk_if_typical": 0.0265, "effect": 0.1126, "direction": "raises"}
            for f in ("age", "avg_glucose_level", "hypertension", "smoking_status", "bmi")
        ],
        "what_if": [
            {"factor": "bmi", "change": "reach a BMI of 24.9", "current_value": 34.4,
             "target_value": 24.9, "probability": 0.1363, "absolute_reduction": 0.0028},
            {"factor": "avg_glucose_level", "change": "bring average glucose to 99 mg/dL",
             "current_value": 171.2, "target_value": 99.0, "probability": 0.0944,
             "absolute_reduction": 0.0446},
        ],
        "warnings": [],
        "model_tag": "stroke_risk_model:47nohlhkd6araax4",
        "disclaimer": "Decision support, not a diagnosis. See the model card for its limits.",
    }
)  # fmt: skip


class Constant(BaseModel):
    probability: float
    risk_band: str


class Constants(BaseModel):
    results: list[Constant]


# The same traffic settings as the service: the baseline must differ only in the work done.
settings = get_settings()
install_request_timeout()  # as the service does: the two must differ only in the work done


@bentoml.service(
    name="noop", workers=settings.workers, traffic={"timeout": settings.request_timeout}
)
class Noop:
    @bentoml.api(route="/predict", output_spec=Constant)
    async def predict(self, patient: Patient, /) -> Response:
        return Response(CONSTANT, media_type="application/json")

    @bentoml.api(route="/predict_batch", output_spec=Constants)
    async def predict_batch(self, batch: PatientBatch, /) -> Response:
        body = b'{"results":[' + b",".join([TYPICAL_RESULT] * len(batch.patients)) + b"]}"
        return Response(body, media_type="application/json")
