"""Training benchmark: wall time of the full `training.py` run and the model-quality bars.

    python bench/bench_training.py [--repeats 3]
    python bench/bench_training.py --baseline DIR [--pairs 3] [--validate]

Runs the real command (imports and model-store save included) into a temporary BentoML
home, and reads the winner's numbers from the metrics it wrote. Results go to
bench/results/training.json.

``--baseline DIR``: a ratio against other code on a busy machine. DIR is a checkout of the
code to compare with (e.g. ``git worktree add /tmp/base main``, or ``git archive main |
tar -x -C /tmp/base``) plus the data set; its training.py runs with this .venv. The two
run alternately, A B A B (``--pairs`` pairs), so a change in the machine's load hits both
alike; medians and the ratio B/A of wall and CPU time are reported, and whether both gave
the same model (CV figures, test metrics, and every adult's probability and interval from
the stored lean copies, to ``SAME_NUMBERS``). ``--validate`` times `training.py --validate`
instead. Results go to bench/results/training_ab.json (training_validate_ab.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


# Largest difference in probability (and interval bounds) allowed between two runs' models
# for them to count as the same model: the refits' quick path agrees to about 1e-13.
SAME_NUMBERS = 1e-9


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stored_numbers(home: str, data: Path) -> dict[str, list[float]]:
    """Every adult's probability and interval bounds from the model the run saved."""
    import bentoml

    from stroke_risk.core.schema import ADULT_AGE
    from stroke_risk.scoring.store import load_lean
    from stroke_risk.training.dataset import load_training_data
    from stroke_risk.training.lean_compile import frame_to_columns

    assert os.environ.get("BENTOML_HOME") == home, "run in a process started with this home"
    stored = load_lean(bentoml.models.get("stroke_risk_model:latest"))
    frame = load_training_data(data)
    columns = frame_to_columns(frame[frame["age"] >= ADULT_AGE])
    low, high = stored.intervals.interval(columns)
    return {
        "probability": stored.lean.predict(columns).tolist(),
        "low": np.asarray(low).tolist(),
        "high": np.asarray(high).tolist(),
    }


def timed_run(code: Path, data: Path, validate: bool) -> dict:
    """One `training.py` run of the code in ``code``: wall and CPU seconds, its metrics and
    the stored model's numbers."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as reports:
        env = {**os.environ, "BENTOML_HOME": home, "BENTOML_DO_NOT_TRACK": "true"}
        command = [sys.executable, "training.py", "--data", str(data), "--output-dir", reports]
        cpu, started = child_cpu_seconds(), time.perf_counter()
        subprocess.run(
            command + (["--validate"] if validate else []),
            cwd=code,
            env=env,
            check=True,
            capture_output=True,
        )
        wall, cpu = time.perf_counter() - started, child_cpu_seconds() - cpu
        metrics = json.loads((Path(reports) / "metrics.json").read_text())
        numbers = stored_numbers_in_subprocess(home, data)
    return {"wall": wall, "cpu": cpu, "metrics": metrics, "numbers": numbers}


def stored_numbers_in_subprocess(home: str, data: Path) -> dict[str, list[float]]:
    """:func:`stored_numbers` in a fresh process (BentoML reads its home once per process)."""
    completed = subprocess.run(
        [sys.executable, __file__, "--stored-numbers", home, "--data", str(data)],
        cwd=REPO_ROOT,
        env={**os.environ, "BENTOML_HOME": home, "BENTOML_DO_NOT_TRACK": "true"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout)


def model_figures(metrics: dict) -> dict:
    """What must not change when only the speed does: the comparison and the test split."""
    return {
        "winner": metrics["winner"],
        "candidates": [
            {k: c[k] for k in ("name", "best_params", "cv_auc_mean", "cv_auc_std")}
            for c in metrics["candidates"]
        ],
        "test_metrics": metrics["test_metrics"],
    }


def largest_gap(a: dict[str, list[float]], b: dict[str, list[float]]) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def compare(baseline: Path, data: Path, pairs: int, validate: bool, output: Path) -> None:
    """A B A B ... against ``baseline``; medians, ratios and sameness into ``output``."""
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    for pair in range(pairs):
        for label, code in (("A", baseline), ("B", REPO_ROOT)):
            runs[label].append(timed_run(code, data, validate))
            logger.info(
                "pair %d %s: %.1f s wall, %.1f s CPU (load %.1f)",
                pair + 1,
                label,
                runs[label][-1]["wall"],
                runs[label][-1]["cpu"],
                os.getloadavg()[0],
            )
    median = {
        label: {kind: statistics.median(r[kind] for r in runs[label]) for kind in ("wall", "cpu")}
        for label in runs
    }
    first_a, first_b = runs["A"][0], runs["B"][0]
    summary = {
        "command": f"training.py{' --validate' if validate else ''}",
        "baseline": str(baseline),
        "pairs": pairs,
        "wall_seconds": {label: [r["wall"] for r in runs[label]] for label in runs},
        "cpu_seconds": {label: [r["cpu"] for r in runs[label]] for label in runs},
        "median": median,
        "ratio_b_over_a": {kind: median["B"][kind] / median["A"][kind] for kind in ("wall", "cpu")},
        "same_model_figures": model_figures(first_a["metrics"])
        == model_figures(first_b["metrics"]),
        "largest_probability_or_interval_gap": largest_gap(first_a["numbers"], first_b["numbers"]),
        "same_numbers_tolerance": SAME_NUMBERS,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    if validate:
        summary["validation_seconds"] = {
            label: r["metrics"].get("validation", {}).get("run", {}).get("seconds")
            for label, r in (("A", first_a), ("B", first_b))
        }
    write_results(summary, output)


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
    parser.add_argument("--baseline", type=Path, help="code to compare with (A B A B)")
    parser.add_argument("--pairs", type=int, default=3, help="A B pairs with --baseline")
    parser.add_argument("--validate", action="store_true", help="time training.py --validate")
    parser.add_argument("--stored-numbers", metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stored_numbers:
        print(json.dumps(stored_numbers(args.stored_numbers, args.data)))  # noqa: T201
        return 0
    if args.baseline:
        name = "training_validate_ab.json" if args.validate else "training_ab.json"
        compare(args.baseline, args.data, args.pairs, args.validate, args.output.with_name(name))
        return 0
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
