"""The request guard's own cost per request, in process: this version against another.

    python bench/bench_guard.py [--against cb80b26] [--rounds 7] [--requests 50000]

Each guard wraps the same do-nothing ASGI app and is called directly (no server, no
network) with a good /predict request: the headers a client sends, a key, a 300-byte
body with Content-Length. The other version's ``api_guard.py`` is read from git and
loaded beside this one; A B A B, the median of the rounds' microseconds per request.
Results are printed and written to bench/results/guard.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import write_results  # noqa: E402
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from stroke_risk.serving import api_guard  # noqa: E402

logger = logging.getLogger("bench")
KEYS = ("first-key-0123456789", "second-key-abcdefgh", "app-test-key-3c1d")
BODY = b"x" * 300
HEADERS = [
    (b"host", b"127.0.0.1:3000"),
    (b"user-agent", b"python-requests/2.32"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept", b"*/*"),
    (b"connection", b"keep-alive"),
    (b"content-type", b"application/json"),
    (b"authorization", f"Bearer {KEYS[2]}".encode()),
    (b"content-length", str(len(BODY)).encode()),
]
SCOPE = {"type": "http", "method": "POST", "path": "/predict", "headers": HEADERS}


async def app(scope, receive, send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def load_guard(commit: str):
    """``api_guard`` as it was at ``commit``, as a separate module."""
    source = subprocess.run(
        ["git", "show", f"{commit}:stroke_risk/serving/api_guard.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_api_guard.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_api_guard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def per_request_us(guard, count: int) -> float:
    async def receive():
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message):
        return None

    started = time.perf_counter()
    for _ in range(count):
        await guard({**SCOPE}, receive, send)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="cb80b26")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench/results/guard.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    old = load_guard(args.against)
    guards = {
        "no_guard": app,
        args.against: old.ApiGuard(app, api_keys=KEYS, model_version=lambda: "m:v1"),
        "this": api_guard.ApiGuard(app, api_keys=KEYS, model_version=lambda: "m:v1"),
    }
    runs: dict[str, list[float]] = {name: [] for name in guards}
    for _ in range(args.rounds):
        for name, guard in guards.items():
            runs[name].append(asyncio.run(per_request_us(guard, args.requests)))
    medians = {name: round(statistics.median(values), 2) for name, values in runs.items()}
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(),
        "requests_per_round": args.requests,
        "median_us_per_request": medians,
        "this_minus_other_us": round(medians["this"] - medians[args.against], 2),
        "runs_us": runs,
    }
    write_results(summary, args.output, raw="runs_us")


if __name__ == "__main__":
    main()
