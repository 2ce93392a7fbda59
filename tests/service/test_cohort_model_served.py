"""A model trained on a cohort is served unchanged: `bentoml serve` with its tag answers
with it, its interval and the lean copy's own number, and every route names its outcome as
a risk within the horizon (the words follow the model's record)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fhir.builders import row_bundle
from tests.servers import bentoml_server

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_cohort_model_is_served_by_its_tag(tmp_path, example_patient):
    cohort = tmp_path / "cohort.csv"
    home = tmp_path / "home"
    environment = {**os.environ, "BENTOML_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "stroke_risk.training.simulation", "--output", str(cohort),
         "--patients", "3000", "--seed", "4"],
        check=True, cwd=REPO_ROOT, capture_output=True, env=environment,
    )  # fmt: skip
    trained = subprocess.run(
        [sys.executable, "training.py", "--cohort", str(cohort), "--horizon", "5",
         "--refits", "4", "--output-dir", str(tmp_path / "reports")],
        check=True, cwd=REPO_ROOT, capture_output=True, text=True, env=environment,
    )  # fmt: skip
    tag = trained.stdout.strip().splitlines()[-1]
    expected = subprocess.run(
        [sys.executable, "-c",
         "import sys, json, numpy as np, bentoml; from stroke_risk.scoring.store import load_lean;"
         " s = load_lean(bentoml.models.get(sys.argv[1])); p = json.loads(sys.argv[2]);"
         " c = {k: np.array([v], dtype=float if isinstance(v, float) else object)"
         " for k, v in p.items()}; print(s.lean.predict(c)[0], s.outcome.horizon_words)",
         tag, __import__("json").dumps(example_patient)],
        check=True, cwd=REPO_ROOT, capture_output=True, text=True, env=environment,
    ).stdout.split()  # fmt: skip
    assert expected[1] == "5-year"
    with bentoml_server(home, tmp_path, env={"STROKE_MODEL_TAG": tag}) as server:
        reply = httpx.post(f"{server.url}/predict", json=example_patient, timeout=30).json()
        resource = httpx.post(
            f"{server.url}/fhir/risk-assessment",
            json=row_bundle(example_patient, dt.date(2026, 6, 1)),
            headers={"Content-Type": "application/fhir+json"},
            timeout=30,
        ).json()
        card = httpx.get(f"{server.url}/model-card.json", timeout=30)
        document = httpx.get(f"{server.url}/docs.json", timeout=30).json()
    assert reply["model_tag"] == tag
    assert reply["probability"] == pytest.approx(float(expected[0]), abs=1e-4)
    low, high = reply["probability_interval"]
    assert low <= reply["probability"] <= high
    assert reply["outcome"]["kind"] == "incident"
    assert reply["outcome"]["label"] == "5-year risk of stroke"
    assert "5-year risk of stroke" in document["info"]["description"]
    assert "stroke history" not in document["info"]["description"]
    prediction = resource["prediction"][0]
    assert prediction["whenRange"]["high"]["value"] == 5
    assert "not a prospective" not in " ".join(note["text"] for note in resource["note"])
    assert card.status_code == 200
    assert tag in card.text
