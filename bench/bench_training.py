"""Training benchmark: wall time of the full `training.py` run and the model-quality bars.

    python bench/bench_training.py [--repeats 3]

Runs the real command (imports and model-store save included) into a temporary BentoML
home, and reads the winner's numbers from the metrics it wrote. Results go to
bench/results/training.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from bench.bench_service import write_results  # noqa: E402

logger = logging.getLogger("bench")

BARS = {
    "wall_seconds": ("<=", 30.0),
    "cv_auc_5x5": (">=", 0.845),
    "test_brier": ("<=", 0.043),
    "test_observed_expected_low": (">=", 0.85),
    "test_observed_expected_high": ("<=", 1.15),
}


def run_once(data: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as reports:
        env = {**os.environ, "BENTOML_HOME": home, "BENTOML_DO_NOT_TRACK": "true"}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "training.py", "--data", str(data), "--output-dir", reports],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - started
        metrics = json.loads((Path(reports) / "metrics.json").read_text())
    winner = next(c for c in metrics["candidates"] if c["name"] == metrics["winner"])
    test = metrics["test_metrics"]
    return {
        "wall_seconds": wall,
        "winner": metrics["winner"],
        "cv_auc_5x5": winner["cv_auc_mean"],
        "cv_auc_sd": winner["cv_auc_std"],
        "cv_folds": winner["cv_folds"],
        "test_brier": test["brier"],
        "test_observed_expected": test["observed_expected"],
        "test_roc_auc": test["roc_auc"],
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--data", type=Path, default=REPO_ROOT / "healthcare-dataset-stroke-data.csv"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "bench" / "results" / "training.json"
    )
    args = parser.parse_args()
    runs = []
    for i in range(args.repeats):
        runs.append(run_once(args.data))
        logger.info("run %d: %s", i + 1, runs[-1])
    first = runs[0]
    summary = {
        "wall_seconds_median": statistics.median(r["wall_seconds"] for r in runs),
        "wall_seconds": [r["wall_seconds"] for r in runs],
        **{k: first[k] for k in first if k != "wall_seconds"},
        "same_metrics_every_run": all(
            {k: v for k, v in r.items() if k != "wall_seconds"}
            == {k: v for k, v in first.items() if k != "wall_seconds"}
            for r in runs
        ),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    checks = {
        "wall_seconds": summary["wall_seconds_median"],
        "cv_auc_5x5": summary["cv_auc_5x5"],
        "test_brier": summary["test_brier"],
        "test_observed_expected_low": summary["test_observed_expected"],
        "test_observed_expected_high": summary["test_observed_expected"],
    }
    summary["bars"] = {
        name: {
            "value": checks[name],
            "bar": f"{op} {limit}",
            "met": checks[name] <= limit if op == "<=" else checks[name] >= limit,
        }
        for name, (op, limit) in BARS.items()
    }
    write_results(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
