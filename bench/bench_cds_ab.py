"""The CDS `patient-view` route in process, this checkout against another (A/B), alternating.

    .venv/bin/python bench/bench_cds_ab.py OTHER_CHECKOUT [--requests 200] [--rounds 5]
    (writes bench/results/cds-ab.json)

Why: on a shared, loaded machine absolute milliseconds say little, but two code bases timed
alternately under the same load can be compared. Each round runs, in a fresh interpreter
for each checkout in turn, the EHR routes' Starlette app (no HTTP server: the routes,
mapping, estimate and card are what differ) on the 200-Observation US Core chart of
bench/bench_cds.py, with the same quick model (``training.py --quick``, trained once into
a temporary BentoML home). Reports each side's median p50 and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_cds import chart  # noqa: E402
from stroke_risk.core.config import REPO_ROOT  # noqa: E402

TIMING = """
import json, statistics, sys, time
import bentoml
from starlette.testclient import TestClient
from stroke_risk.assessment.model_loading import load_assessor
from stroke_risk.core.config import get_settings
from stroke_risk.fhir.routes import build_app
settings = get_settings()
assessor = load_assessor(bentoml.models.get(settings.model_tag), settings)
client = TestClient(build_app(lambda: assessor, settings))
body = open(sys.argv[1], "rb").read()
headers = {"Content-Type": "application/json"}
for _ in range(20):
    reply = client.post("/cds-services/stroke-risk", content=body, headers=headers)
    assert reply.status_code == 200 and "%" in reply.json()["cards"][0]["summary"], reply.text
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    client.post("/cds-services/stroke-risk", content=body, headers=headers)
    times.append(1000 * (time.perf_counter() - start))
print(json.dumps(statistics.median(times)))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (e.g. main's files)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--data", type=Path, default=REPO_ROOT / "healthcare-dataset-stroke-data.csv"
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench/results/cds-ab.json")
    args = parser.parse_args()
    prefetch = chart(dt.date.today(), us_core=True)
    hook = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": prefetch["patient"]["id"]},
        "prefetch": prefetch,
    }
    sides = {"this": REPO_ROOT, "other": args.other.resolve()}
    p50s: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BENTOML_HOME": home, "BENTOML_DO_NOT_TRACK": "true"}
        body = Path(home) / "hook.json"
        body.write_text(json.dumps(hook))
        subprocess.run(
            [
                sys.executable,
                "training.py",
                "--quick",
                "--data",
                str(args.data),
                "--output-dir",
                str(Path(home) / "reports"),
                "--seed",
                "7",
            ],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        for _ in range(args.rounds):
            for name, root in sides.items():
                done = subprocess.run(
                    [sys.executable, "-c", TIMING, str(body), str(args.requests)],
                    cwd=root,
                    env={**env, "PYTHONPATH": str(root)},
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{name} ({root}) failed:\n{done.stderr[-3000:]}")
                p50s[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(name, round(p50s[name][-1], 2), flush=True)  # noqa: T201
    medians = {name: statistics.median(values) for name, values in p50s.items()}
    summary = {
        "requests_per_round": args.requests,
        "this_p50_ms_median": medians["this"],
        "other_p50_ms_median": medians["other"],
        "ratio_this_to_other": medians["this"] / medians["other"],
        "rounds": p50s,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
