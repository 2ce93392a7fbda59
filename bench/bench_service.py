"""Service benchmark: the real service against a no-op BentoML service, A B A B.

    python bench/bench_service.py [--duration 15] [--rounds 2]

Needs `wrk` (Debian package) and a trained model in the BentoML store (`make train`).
Load comes from wrk in a second process on 127.0.0.1; both services run `bentoml serve`.
Results are printed and written to bench/results/service.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from stroke_risk.core.patient_tables import load_patients_csv  # noqa: E402
from stroke_risk.core.schema import FEATURES  # noqa: E402
from tests.servers import bentoml_server  # noqa: E402

logger = logging.getLogger("bench")
LUA = REPO_ROOT / "bench" / "post_patient.lua"
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}
BATCH_SIZE = 10_000
BATCH_REPEATS = 7


# As shipped: one worker per CPU (the test servers' default is one worker).
AS_SHIPPED = {"STROKE_WORKERS": "cpu_count"}


def wrk(url: str, connections: int, duration: int, threads: int = 2) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(LUA),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for label in ("50", "99"):
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{label}_ms"] = float(value) * UNIT[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    result["errors"] = int(errors.group(1)) if errors else 0
    result["socket_errors"] = socket_errors.group(0) if socket_errors else ""
    return result


def load_arguments(doc: str, output: Path) -> argparse.ArgumentParser:
    """The options every load benchmark takes: wrk's duration, connections and rounds, and
    where the results go."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=output)
    return parser


def write_results(summary: dict, path: Path, raw: str = "runs") -> None:
    """Save a benchmark's results as JSON and log them, less the raw per-run list (the key
    ``raw``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    logger.info(json.dumps({k: v for k, v in summary.items() if k != raw}, indent=2))


def rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def batch_body(n: int = BATCH_SIZE) -> bytes:
    """A /predict_batch body of n real patients (the data set's rows, repeated)."""
    parsed = load_patients_csv(REPO_ROOT / "healthcare-dataset-stroke-data.csv")
    rows = parsed.valid[list(FEATURES)].astype(object)
    rows = rows.where(rows.notna(), None).to_dict(orient="records")
    return json.dumps({"patients": (rows * (n // len(rows) + 1))[:n]}).encode()


def batch_seconds_curl(url: str, body_file: Path, repeats: int = 5) -> list[float]:
    """End to end as a C client sees it: from sending the request to the reply's last byte
    (curl's time_total), so the client's own speed is not what is measured."""
    command = [
        "curl", "--silent", "--fail", "--output", "/dev/null",
        "--write-out", "%{time_total}",
        "--header", "Content-Type: application/json",
        "--data-binary", f"@{body_file}",
        f"{url}/predict_batch",
    ]  # fmt: skip
    return [
        float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        for _ in range(repeats)
    ]


def batch_seconds_requests(url: str, body: bytes, n: int, repeats: int = 5) -> list[float]:
    """The same from Python's requests, which adds its own reading of the 12.7 MB reply."""
    timings = []
    session = requests.Session()
    for _ in range(repeats):
        started = time.perf_counter()
        reply = session.post(
            f"{url}/predict_batch",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        content = reply.content  # the whole reply has arrived: the end of "end to end"
        timings.append(time.perf_counter() - started)
        reply.raise_for_status()
        assert len(json.loads(content)["results"]) == n  # checked outside the timing
    return timings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = load_arguments(__doc__, REPO_ROOT / "bench/results/service.json")
    parser.add_argument(
        "--batch-repeats", type=int, default=BATCH_REPEATS, help="curl batches per service"
    )
    args = parser.parse_args()
    home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict[str, list] = {"noop": [], "service": [], "noop_1conn": [], "service_1conn": []}
    noop_home = Path(tempfile.mkdtemp(prefix="bench-noop-"))
    with (
        bentoml_server(noop_home, logs, target="bench/noop_service.py", env=AS_SHIPPED) as noop,
        bentoml_server(home, logs, env=AS_SHIPPED) as service,
    ):
        noop_url = noop.url
        for url in (noop_url, service.url):  # warm up both
            wrk(f"{url}/predict", args.connections, 3)
        for round_ in range(args.rounds):
            for name, url in (("noop", noop_url), ("service", service.url)):
                run = wrk(f"{url}/predict", args.connections, args.duration)
                results[name].append(run)
                logger.info("round %d %-8s %s", round_ + 1, name, run)
        for round_ in range(args.rounds):
            for name, url in (("noop", noop_url), ("service", service.url)):
                run = wrk(f"{url}/predict", 1, max(5, args.duration // 2), threads=1)
                results[f"{name}_1conn"].append(run)
                logger.info("round %d %-8s 1 connection %s", round_ + 1, name, run)
        body = batch_body(BATCH_SIZE)
        batch_requests = batch_seconds_requests(service.url, body, BATCH_SIZE)
        batch: list[float] = []
        noop_batch: list[float] = []
        body_file = logs / "batch.json"  # written once, posted by curl each time
        body_file.write_bytes(body)
        for _ in range(args.batch_repeats):  # alternating, like the rounds above
            noop_batch += batch_seconds_curl(noop_url, body_file, repeats=1)
            batch += batch_seconds_curl(service.url, body_file, repeats=1)
        memory = rss_mb(service.process.pid)  # the last batch's reply has just arrived
        time.sleep(2)  # ...and once the worker has freed it
        memory_settled = rss_mb(service.process.pid)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in results[name])

    summary = {
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "service_rps_median": median("service", "rps"),
        "noop_rps_median": median("noop", "rps"),
        "ratio_to_noop": median("service", "rps") / median("noop", "rps"),
        "service_p99_ms_median": median("service", "p99_ms"),
        "noop_p99_ms_median": median("noop", "p99_ms"),
        "service_errors": sum(r["errors"] for r in results["service"]),
        "service_1conn_p50_ms_median": median("service_1conn", "p50_ms"),
        "noop_1conn_p50_ms_median": median("noop_1conn", "p50_ms"),
        "batch_10k_seconds_median": statistics.median(batch),
        "batch_10k_seconds": batch,
        "noop_batch_10k_seconds_median": statistics.median(noop_batch),
        "noop_batch_10k_seconds": noop_batch,
        "batch_10k_seconds_requests_median": statistics.median(batch_requests),
        "batch_10k_seconds_requests": batch_requests,
        "service_rss_mb_all_processes": memory,
        "service_rss_mb_all_processes_settled": memory_settled,
        "runs": results,
    }
    write_results(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
