"""Abuse benchmark: what the security review's bodies cost one worker now.

    python bench/bench_abuse.py [--repeats 5]

One real `bentoml serve service.py` with one worker (as a 0.5-vCPU Fargate task runs) on
127.0.0.1, without keys. Each attack is sent ``--repeats`` times, with Content-Length and
chunked; for each the reply's status, time and size are recorded, and the worker's peak
RSS growth over its RSS before the attack (sampled every 5 ms while the request runs).
A good request's time is measured in the same run, for scale. Results are printed and
written to bench/results/abuse.json.

The security review's bars: the 700,000-key body answers 4xx in <= 200 ms with a body <= 10 KB,
and the worker's RSS grows by <= 50 MB; the batch with 40 extra keys per patient too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import write_results  # noqa: E402
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from stroke_risk.core.schema import Patient  # noqa: E402
from tests.servers import bentoml_server  # noqa: E402

logger = logging.getLogger("bench")
EXAMPLE = Patient.model_config["json_schema_extra"]["example"]
EXTRA = {f"x{i}": 0 for i in range(40)}


def attacks() -> dict[str, tuple[str, bytes]]:
    """name -> (route, body): the review's bodies, and the largest that fit under the limits."""
    return {
        # The review's: 700,000 unknown keys, 8.3 MB.
        "key_flood_700k": (
            "/predict",
            b"{" + b",".join(b'"k%d":0' % i for i in range(700_000)) + b"}",
        ),
        # As many unknown keys as fit under /predict's 16 KB limit.
        "key_flood_under_limit": (
            "/predict",
            b"{" + b",".join(b'"k%d":0' % i for i in range(1_500)) + b"}",
        ),
        # The review's batch: 40 extra keys per patient, 5.2 MB.
        "batch_40_extra_keys": (
            "/predict_batch",
            json.dumps({"patients": [{**EXAMPLE, **EXTRA}] * 8_800}).encode(),
        ),
        # The same under the 4 MB batch limit: 6,000 patients, 300,000 pydantic errors.
        "batch_40_extra_keys_under_limit": (
            "/predict_batch",
            json.dumps({"patients": [{**EXAMPLE, **EXTRA}] * 6_000}).encode(),
        ),
        # One patient of a batch flooded with 290,000 unknown keys, under the 4 MB limit.
        "batch_one_patient_key_flood": (
            "/predict_batch",
            b'{"patients": [{' + b",".join(b'"k%d":0' % i for i in range(290_000)) + b"}]}",
        ),
        # Every field wrong in 10,000 patients: 100,000 pydantic errors, 1.9 MB.
        "batch_every_field_wrong": (
            "/predict_batch",
            json.dumps({"patients": [dict.fromkeys(EXAMPLE, "?")] * 10_000}).encode(),
        ),
    }


def worker(pid: int) -> psutil.Process:
    """The process that serves requests: the last child of the server's tree."""
    return psutil.Process(pid).children(recursive=True)[-1]


def send(url: str, body: bytes, chunked: bool, process: psutil.Process) -> dict[str, float]:
    """One request while sampling the worker's RSS; its status, time, size, RSS growth."""
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    data = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    started = time.perf_counter()
    reply = requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=60)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "status": reply.status_code,
        "seconds": elapsed,
        "reply_bytes": len(reply.content),
        "rss_growth_mb": (peak - before) / 2**20,
        "rss_after_mb": process.memory_info().rss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench/results/abuse.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    bodies = attacks()
    good = json.dumps(EXAMPLE).encode()
    results: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory() as logs,
        bentoml_server(home, Path(logs), env={"STROKE_WORKERS": "1"}) as server,
    ):
        process = worker(server.process.pid)
        logger.info("worker: pid %d, %s", process.pid, " ".join(process.cmdline())[:160])
        for _ in range(20):  # warm up
            requests.post(f"{server.url}/predict", data=good, timeout=10)
        rounds: dict[str, list[dict[str, float]]] = {"good_predict": []}
        for _ in range(args.repeats):
            rounds["good_predict"].append(send(f"{server.url}/predict", good, False, process))
            for name, (route, body) in bodies.items():
                for chunked in (False, True):
                    key = f"{name}{'_chunked' if chunked else ''}"
                    rounds.setdefault(key, []).append(
                        send(f"{server.url}{route}", body, chunked, process)
                    )
        for key, runs in rounds.items():
            results[key] = {
                "body_bytes": len(bodies[key.removesuffix("_chunked")][1])
                if key != "good_predict"
                else len(good),
                "statuses": sorted({run["status"] for run in runs}),
                "median_ms": round(statistics.median(r["seconds"] for r in runs) * 1000, 1),
                "max_ms": round(max(r["seconds"] for r in runs) * 1000, 1),
                "reply_bytes_max": max(r["reply_bytes"] for r in runs),
                "rss_growth_mb_max": round(max(r["rss_growth_mb"] for r in runs), 1),
                "rss_after_mb_last": round(runs[-1]["rss_after_mb"], 1),
            }
        log = server.log()
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(),
        "repeats": args.repeats,
        "tracebacks_in_log": log.count("Traceback"),
        "results": results,
    }
    write_results(summary, args.output)


if __name__ == "__main__":
    main()
