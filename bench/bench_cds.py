"""CDS Hooks `patient-view` latency with a 200-Observation prefetch, against `/predict`.

    .venv/bin/python bench/bench_cds.py [--requests 300] [--rounds 3] [--us-core]
    (writes bench/results/cds.json, or cds-us-core.json)

One real `bentoml serve service.py` (one worker, as a 0.5-vCPU task runs) on loopback, the
default model store. At one connection, alternating rounds of: `/predict` with a patient,
and `POST /cds-services/stroke-risk` for the same patient sent as an EHR would, a Patient,
two Conditions and 200 Observations (glucose readings over the last year, blood pressure,
weight, height, BMI and smoking status; every one of them read by a mapping rule, which is
the expensive case: resources no rule reads are skipped before validation). Medians of the
rounds' p50 and p99; the bar is p50 <= 20 ms for the CDS call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from tests.conftest import EXAMPLE_PATIENT  # noqa: E402
from tests.fhir.builders import (  # noqa: E402
    ICD10CM,
    US_CORE_LAB_EXTRAS,
    about,
    bundle,
    coded_observation,
    condition,
    observation,
    patient,
)
from tests.servers import bentoml_server  # noqa: E402

OBSERVATIONS = 200


def chart(today: dt.date, us_core: bool = False) -> dict:
    """The prefetch of one patient with 200 Observations that the mapping reads (each with
    US Core's other elements too, ``us_core``)."""
    observations = []
    for k in range(OBSERVATIONS - 4):
        date = (today - dt.timedelta(days=1 + (k * 360) // (OBSERVATIONS - 4))).isoformat()
        if k % 2:
            observations.append(observation("2345-7", 95.0 + k % 40, "mg/dL", date))
        else:
            observations.append(observation("15074-8", 5.3 + (k % 30) / 10, "mmol/L", date))
    recent = (today - dt.timedelta(days=20)).isoformat()
    observations += [
        observation("29463-7", 82.0, "kg", recent),
        observation("8302-2", 168.0, "cm", recent),
        observation("39156-5", 29.1, "kg/m2", recent),
        coded_observation("72166-2", "8517006", recent),
    ]
    person = patient("1958-03-14", "female", "M")
    if us_core:
        observations = [{**o, **US_CORE_LAB_EXTRAS} for o in observations]
    # Each names the chart's patient as its subject, as a search by patient returns them.
    observations = [about(person, o) for o in observations]
    conditions = [about(person, condition(code, ICD10CM)) for code in ("I10", "I48")]
    return {
        "patient": person,
        "observations": bundle(*observations, kind="searchset"),
        "fieldObservations": bundle(kind="searchset"),
        "conditions": bundle(*conditions, kind="searchset"),
    }


def timed(session: requests.Session, url: str, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        reply = session.post(url, data=body, headers={"Content-Type": "application/json"})
        out.append(1000 * (time.perf_counter() - start))
        if reply.status_code != 200:
            raise SystemExit(f"{url}: {reply.status_code} {reply.text[:300]}")
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--us-core",
        action="store_true",
        help="Observations as US Core's lab profile writes them (category, subject, "
        "performer, interpretation, reference range...)",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    default = "cds-us-core.json" if args.us_core else "cds.json"
    args.output = args.output or REPO_ROOT / "bench/results" / default
    home = Path.home() / "bentoml"
    prefetch = chart(dt.date.today(), args.us_core)
    hook = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": prefetch["patient"]["id"]},
        "prefetch": prefetch,
    }
    bodies = {
        "predict": json.dumps({**EXAMPLE_PATIENT, "age": 68.0}).encode(),
        "cds": json.dumps(hook).encode(),
    }
    paths = {"predict": "/predict", "cds": "/cds-services/stroke-risk"}
    runs: dict[str, list[dict[str, float]]] = {"predict": [], "cds": []}
    with (
        tempfile.TemporaryDirectory() as logs,
        # No keys (test servers allow anonymous access on loopback): both routes alike.
        bentoml_server(home, Path(logs), env={"STROKE_WORKERS": "1"}) as server,
        requests.Session() as session,
    ):
        for name in paths:  # warm-up
            timed(session, server.url + paths[name], bodies[name], 30)
        for _ in range(args.rounds):
            for name in ("predict", "cds"):
                ms = timed(session, server.url + paths[name], bodies[name], args.requests)
                runs[name].append({"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 0.99)})
                print(name, runs[name][-1], flush=True)  # noqa: T201
    summary = {
        "observations": OBSERVATIONS,
        "us_core_observations": args.us_core,
        "requests_per_round": args.requests,
        **{
            f"{name}_{key}_median": statistics.median(r[key] for r in runs[name])
            for name in runs
            for key in ("p50_ms", "p99_ms")
        },
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
