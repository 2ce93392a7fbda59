"""Resilience benchmark: health checks under a flood of batches, SIGTERM and a killed worker.

    python bench/bench_resilience.py [--scenario batches|sigterm|kill|all] [--runs 5]

batches  One worker; for --duration seconds, waves of 64 10,000-patient batches sent at
         the same moment, then 64 "polite" clients sending batches back to back (waiting
         Retry-After after a 503), while a separate process asks /readyz every 20 ms.
         Run once per batch limit in --limits (STROKE_MAX_CONCURRENT_BATCHES; 64 = no
         limit: the threads alone). Reports /readyz's latency and every batch reply by
         status with its latency.
sigterm  Two workers (--sigterm-workers); 16 clients, a new connection per request to
         /predict; SIGTERM to the server's main process (as `docker stop` does) after
         1 s, with a 2 s grace period.
         Counts replies, refused connections (never accepted) and failures among accepted
         connections, and the exit code; --runs times.
kill     Two workers; the same 16 clients; kill -9 of one worker after 3 s. Counts failed
         requests against the connections the killed worker held, the seconds until its
         replacement answers, and until throughput is back to 90% of before.

Needs a trained model in the BentoML store (`make train`). Results are printed and written
to bench/results/resilience.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import batch_body, write_results  # noqa: E402
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from tests.load import JSON, PatientLoad  # noqa: E402
from tests.servers import bentoml_server  # noqa: E402

logger = logging.getLogger("bench")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _poll_readyz(host: str, port: int, seconds: float, out: multiprocessing.Queue) -> None:
    """In its own process, so the load's client threads cannot delay the probe."""
    latencies, statuses = [], Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection(host, port, timeout=10)
            connection.request("GET", "/readyz")
            status = connection.getresponse().status
            connection.close()
        except OSError as error:
            status = type(error).__name__
        latencies.append((time.perf_counter() - started) * 1e3)
        statuses[str(status)] += 1
        time.sleep(0.02)
    out.put((latencies, dict(statuses)))


def batches(url: str, clients: int, duration: float, body: bytes, polite: bool) -> dict:
    """Waves of ``clients`` batches sent at the same moment, one wave after the other (or,
    ``polite``, clients that each send again as soon as they are answered, waiting as
    long as Retry-After says after a 503), while another process asks /readyz."""
    host, port = url.removeprefix("http://").split(":")
    replies: list[tuple[str, float]] = []
    stop_at = time.monotonic() + duration
    wave = threading.Barrier(clients)

    def client() -> None:
        while time.monotonic() < stop_at:
            if not polite:
                try:
                    wave.wait(timeout=120)
                except threading.BrokenBarrierError:
                    return
            started = time.perf_counter()
            retry_after = 0.0
            try:
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                connection.request("POST", "/predict_batch", body=body, headers=JSON)
                reply = connection.getresponse()
                reply.read()
                status = str(reply.status)
                if reply.status == 503:
                    if not reply.getheader("Retry-After"):
                        status = "503 without Retry-After"
                    retry_after = float(reply.getheader("Retry-After") or 1)
                connection.close()
            except OSError as error:
                status = type(error).__name__
            replies.append((status, time.perf_counter() - started))
            if polite:
                time.sleep(retry_after)
        wave.abort()  # the last wave may be short of clients: release the others

    queue: multiprocessing.Queue = multiprocessing.Queue()
    probe = multiprocessing.Process(target=_poll_readyz, args=(host, int(port), duration, queue))
    probe.start()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    readyz, readyz_statuses = queue.get()
    probe.join()
    for thread in threads:
        thread.join()
    by_status: dict[str, list[float]] = {}
    for status, seconds in replies:
        by_status.setdefault(status, []).append(seconds * 1e3)
    return {
        "readyz_ms_p50": percentile(readyz, 50),
        "readyz_ms_p99": percentile(readyz, 99),
        "readyz_ms_max": max(readyz),
        "readyz_probes": len(readyz),
        "readyz_statuses": readyz_statuses,
        "batch_replies": {status: len(ms) for status, ms in by_status.items()},
        "batch_ms_p50": {status: percentile(ms, 50) for status, ms in by_status.items()},
        "batch_ms_p99": {status: percentile(ms, 99) for status, ms in by_status.items()},
        "load_average_after": os.getloadavg()[0],
    }


def sigterm_run(home: Path, logs: Path, grace: float, workers: int = 2) -> dict:
    env = {"STROKE_WORKERS": str(workers), "STROKE_SHUTDOWN_GRACE": str(grace)}
    with bentoml_server(home, logs, env=env) as server, PatientLoad(server.url, 16) as load:
        time.sleep(1)
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)  # the main process only, as docker does
        exit_code = server.process.wait(timeout=grace + 30)
        stopped = time.monotonic()
        time.sleep(0.5)  # the clients now see the port closed
    counts = load.counts()
    return {
        "exit_code": exit_code,
        "seconds_to_exit": round(stopped - signalled, 2),
        "ok": counts.get("ok", 0),
        "ok_after_sigterm": load.counts(signalled).get("ok", 0),
        "failed_after_connecting": {k: v for k, v in counts.items() if k.startswith("failed")},
        "refused": sum(v for k, v in counts.items() if k.startswith("refused")),
    }


def _throughput(outcomes: list[tuple[float, str]], start: float, end: float) -> float:
    return sum(1 for at, outcome in outcomes if start <= at < end and outcome == "ok") / (
        end - start
    )


def kill_run(home: Path, logs: Path) -> dict:
    env = {"STROKE_WORKERS": "2"}
    with bentoml_server(home, logs, env=env) as server, PatientLoad(server.url, 16) as load:
        arbiter = psutil.Process(server.process.pid)
        time.sleep(3)
        workers = arbiter.children()
        victim = workers[0]
        held = sum(1 for c in victim.net_connections("tcp") if c.status == "ESTABLISHED")
        killed = time.monotonic()
        victim.kill()
        replaced = None
        while time.monotonic() - killed < 20 and replaced is None:
            new = [p for p in arbiter.children() if p.pid not in {w.pid for w in workers}]
            if new and any(c.status == "LISTEN" for c in new[0].net_connections("tcp")):
                replaced = time.monotonic() - killed
            time.sleep(0.05)
        time.sleep(max(0.0, killed + 12 - time.monotonic()))
    before = _throughput(load.outcomes, killed - 2.5, killed)
    recovered = None
    step = 0.25
    at = killed
    while at + 1 <= killed + 12:
        if _throughput(load.outcomes, at, at + 1) >= 0.9 * before:
            recovered = at + 1 - killed
            break
        at += step
    counts = load.counts(killed - 0.01)
    return {
        "connections_held_by_killed_worker": held,
        "failed": sum(v for k, v in counts.items() if not k == "ok"),
        "outcomes_after_kill": counts,
        "seconds_until_replacement_listens": None if replaced is None else round(replaced, 2),
        "rps_before": round(before, 1),
        "seconds_until_90pct_throughput": recovered,
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["batches", "sigterm", "kill", "all"], default="all")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--limits", default="64,2,1", help="batch limits to compare")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument(
        "--sigterm-workers", type=int, default=2, help="workers of the sigterm scenario"
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench/results/resilience.json")
    args = parser.parse_args()
    home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    summary: dict = {"load_average_at_start": os.getloadavg()}
    if args.scenario in ("batches", "all"):
        body = batch_body()
        summary["batches"] = {}
        for limit in args.limits.split(","):
            env = {"STROKE_WORKERS": "1", "STROKE_MAX_CONCURRENT_BATCHES": limit}
            with bentoml_server(home, logs, env=env) as server:
                for mode in ("waves", "polite"):
                    result = batches(
                        server.url, args.clients, args.duration, body, polite=mode == "polite"
                    )
                    summary["batches"][f"limit_{limit}_{mode}"] = result
                    logger.info("batch limit %s, %s: %s", limit, mode, json.dumps(result))
    if args.scenario in ("sigterm", "all"):
        runs = []
        for run in range(args.runs):
            runs.append(sigterm_run(home, logs, args.grace, args.sigterm_workers))
            logger.info("sigterm run %d: %s", run + 1, json.dumps(runs[-1]))
        summary["sigterm"] = {
            "grace_seconds": args.grace,
            "workers": args.sigterm_workers,
            "runs": runs,
        }
    if args.scenario in ("kill", "all"):
        runs = []
        for run in range(args.runs):
            runs.append(kill_run(home, logs))
            logger.info("kill run %d: %s", run + 1, json.dumps(runs[-1]))
        summary["kill"] = {"runs": runs}
    summary["load_average_at_end"] = os.getloadavg()
    if args.output.exists():  # one scenario at a time keeps the others' last results
        summary = {**json.loads(args.output.read_text()), **summary}
    write_results(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
