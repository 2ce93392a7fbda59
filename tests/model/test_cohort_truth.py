"""Cohort models against the truth: simulated cohorts whose true 5-year risks are known.

The development cohort has 50,000 patients (censoring and competing deaths); a second site
has 1.5 times the stroke hazard (same effects), a third weaker effects (0.6 times every
log-hazard ratio). Training must recover the true risk, external validation must see the
miscalibration, and the closed test must choose the update that the shift calls for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stroke_risk.training.cohort import Cohort
from stroke_risk.training.lean_compile import frame_to_columns
from stroke_risk.training.simulation import (
    HIGHER_INCIDENCE,
    WEAKER_EFFECTS,
    simulate_cohort,
    true_risk,
)
from stroke_risk.training.survival import CohortTrainingResult, train_cohort
from stroke_risk.validation.horizon_metrics import discrimination, horizon_measures
from stroke_risk.validation.updating import closed_test, recalibrated_lean

pytestmark = pytest.mark.slow

HORIZON = 5.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained() -> CohortTrainingResult:
    frame = simulate_cohort(50_000, seed=101)
    cohort = Cohort(frame=frame, source="simulated", sha256="0" * 64, has_death=True)
    return train_cohort(cohort, HORIZON, seed=42, n_refits=4)


def measures(lean, frame: pd.DataFrame) -> dict:
    return horizon_measures(frame, lean.predict(frame_to_columns(frame)), HORIZON, False)


def test_the_trained_model_recovers_the_true_5_year_risk_on_a_fresh_sample(trained):
    fresh = simulate_cohort(50_000, seed=102)
    model = measures(trained.lean, fresh)
    truth = discrimination(
        fresh["followup_years"].to_numpy(),
        fresh["stroke"].to_numpy(),
        true_risk(fresh, HORIZON),
        HORIZON,
    )
    assert 0.9 <= model["observed_expected"] <= 1.1
    assert abs(model["harrell_c"] - truth["harrell_c"]) <= 0.02
    assert abs(model["uno_c"] - truth["uno_c"]) <= 0.02


def test_external_validation_sees_a_site_with_1_5_times_the_incidence(trained):
    site = simulate_cohort(10_000, seed=201, site=HIGHER_INCIDENCE)
    low, high = measures(trained.lean, site)["observed_expected_ci95"]
    assert low > 1.0  # the interval excludes 1: the model under-predicts there


def test_the_closed_test_recalibrates_in_the_large_for_a_higher_incidence(trained):
    site = simulate_cohort(10_000, seed=201, site=HIGHER_INCIDENCE)
    test = closed_test(trained.lean, site, HORIZON)
    assert test.method == "recalibration in the large"
    updated = recalibrated_lean(trained.lean, test.intercept, test.slope)
    fresh_site = simulate_cohort(20_000, seed=251, site=HIGHER_INCIDENCE)
    assert 0.9 <= measures(updated, fresh_site)["observed_expected"] <= 1.1


def test_the_closed_test_recalibrates_the_slope_for_weaker_effects(trained):
    site = simulate_cohort(10_000, seed=301, site=WEAKER_EFFECTS)
    test = closed_test(trained.lean, site, HORIZON)
    assert test.method == "recalibration"
    assert 0.45 <= test.slope <= 0.75  # the truth: 0.6 on the log-hazard scale


def test_the_closed_test_keeps_the_model_on_its_own_population(trained):
    same = simulate_cohort(10_000, seed=401)
    assert closed_test(trained.lean, same, HORIZON).method == "original"


def run_training(args: list[str], home: Path, reports: Path) -> str:
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "training.py"), "--output-dir", str(reports), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env={**os.environ, "BENTOML_HOME": str(home)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.strip().splitlines()[-1]


def test_the_commands_train_validate_externally_and_update_with_lineage(tmp_path):
    """The user's path: simulate, train (prints the tag), validate on a second site,
    update (prints the new tag, its card shows the lineage)."""
    import json

    development, site = tmp_path / "development.csv", tmp_path / "site.parquet"
    for path, name, seed in ((development, "development", 1), (site, "higher-incidence", 2)):
        subprocess.run(
            [sys.executable, "-m", "stroke_risk.training.simulation", "--output", str(path),
             "--patients", "4000", "--site", name, "--seed", str(seed)],
            check=True, cwd=REPO_ROOT, capture_output=True,
        )  # fmt: skip
    home, reports = tmp_path / "bentoml", tmp_path / "reports"
    tag = run_training(
        ["--cohort", str(development), "--horizon", "5", "--refits", "4"], home, reports
    )
    assert tag.startswith("stroke_risk_model:")
    card = (reports / "model_card.md").read_text()
    assert card.startswith(f"# Model card: 5-year risk of a first stroke ({tag})")
    assert "## TRIPOD+AI" in card
    answer = run_training(["--cohort", str(site), "--validate-external", tag], home, reports)
    assert answer.startswith("O/E ")
    external = json.loads(
        (reports / "external" / tag.replace(":", "-") / "external_validation.json").read_text()
    )
    assert external["development"]["apparent"]["patients"] == 4000
    updated = run_training(["--cohort", str(site), "--update", tag, "--refits", "4"], home, reports)
    assert updated != tag
    metrics = json.loads((reports / "metrics.json").read_text())
    assert metrics["model_tag"] == updated
    assert metrics["lineage"]["parent_tag"] == tag
    assert metrics["lineage"]["cohort"]["sha256"] == external["cohort"]["sha256"]
    assert metrics["outcome"]["horizon_years"] == 5.0
    assert "## Lineage" in (reports / "model_card.md").read_text()
