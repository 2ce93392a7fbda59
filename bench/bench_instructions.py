"""Instructions per request, counted by valgrind: a measure the machine's load cannot move.

    python bench/bench_instructions.py [--requests 100]

Throughput on these shared two-core machines swings by a factor of two from one minute to
the next (bench/README.md), which hides a 5% change. Valgrind's callgrind counts the
instructions a process executes, whatever else runs, to within about 1% from run to run.
Each target's ASGI app (BentoML's own, with every middleware; no sockets, no uvicorn) is
started in one process under callgrind with counting off; after a warm-up the process
switches counting on (``callgrind_control -i on``), answers ``--requests`` POST /predict
requests with the README's example patient, and switches it off again. Reported per
request: the no-op service (bench/noop_service.py), the real service, and the real
service's scoring and encoding alone. What counting leaves out: the HTTP server, the
kernel and caches, so the ratio of these counts is not the throughput ratio; it tells
where the service's own time goes and whether a change reduced it.

Needs valgrind (Debian package, `make system-deps`) and a trained model (`make train`).
Results are printed and written to bench/results/instructions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

logger = logging.getLogger("bench")
EXAMPLE = (
    b'{"gender": "Female", "age": 67.0, "hypertension": 1, "heart_disease": 0, '
    b'"ever_married": "Yes", "work_type": "Private", "residence_type": "Urban", '
    b'"avg_glucose_level": 171.2, "bmi": 34.4, "smoking_status": "smokes"}'
)
TARGETS = {
    "noop": ("bench.noop_service", "Noop"),
    "service": ("service", "StrokeRisk"),
    "scoring": ("service", None),  # the assessor and the encoder, without BentoML
}
WARM_UP = 300


def _counting(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        capture_output=True,
        check=True,
    )


async def _serve_requests(app: Any, n: int) -> None:
    """Start the app's lifespan, then answer WARM_UP requests uncounted and n counted."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    inbox.put_nowait({"type": "lifespan.startup"})
    asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the service did not start: {started}")
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(EXAMPLE)).encode()),
    ]
    statuses: list[int] = []

    async def one() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": EXAMPLE, "more_body": False}
            await asyncio.sleep(3600)  # the client never disconnects
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/predict",
            "raw_path": b"/predict",
            "query_string": b"",
            "root_path": "",
            "headers": list(headers),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 3000),
            "state": {},
        }
        await app(scope, receive, send)

    for _ in range(WARM_UP):
        await one()
    _counting(True)
    for _ in range(n):
        await one()
    _counting(False)
    if set(statuses) != {200}:
        raise RuntimeError(f"not every request succeeded: {sorted(set(statuses))}")


def _child(target: str, n: int) -> None:
    """Runs under valgrind: one target, n counted requests."""
    module_name, class_name = TARGETS[target]
    module = importlib.import_module(module_name)
    if class_name is not None:
        asyncio.run(_serve_requests(getattr(module, class_name).to_asgi(), n))
    else:
        import bentoml

        from stroke_risk.assessment.model_loading import load_assessor
        from stroke_risk.assessment.results import encode_json
        from stroke_risk.core.schema import Patient

        settings = module.settings
        assessor = load_assessor(bentoml.models.get(settings.model_tag), settings)
        for _ in range(WARM_UP):
            encode_json(assessor.assess([Patient.model_validate_json(EXAMPLE)])[0])
        _counting(True)
        for _ in range(n):
            encode_json(assessor.assess([Patient.model_validate_json(EXAMPLE)])[0])
        _counting(False)
    os._exit(0)  # skip interpreter shutdown: nothing after this is counted anyway


def count(target: str, n: int) -> int:
    """Instructions the target executes for n requests, from valgrind's summary line."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            target,
            "--requests",
            str(n),
        ]
        # The system allocator rather than Python's arenas: valgrind tracks it cheaply.
        env = {
            **os.environ,
            "PYTHONMALLOC": "malloc",
            "STROKE_WORKERS": "1",
            "STROKE_ALLOW_ANONYMOUS": "true",
        }
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None or int(collected.group(1)) == 0:
        raise RuntimeError(f"{target}: valgrind run failed:\n{done.stderr[-3000:]}")
    return int(collected.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--child", choices=sorted(TARGETS), help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/instructions.json")
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.requests)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    per_request = {}
    for target in ("noop", "service", "scoring"):
        per_request[target] = count(target, args.requests) / args.requests
        logger.info("%-8s %12.0f instructions per request", target, per_request[target])
    summary = {
        "requests_counted": args.requests,
        "instructions_per_request": per_request,
        "service_over_noop": per_request["service"] / per_request["noop"],
        "service_minus_noop": per_request["service"] - per_request["noop"],
        "scoring_share_of_difference": per_request["scoring"]
        / (per_request["service"] - per_request["noop"]),
    }
    from bench.bench_service import write_results  # not in the child: nothing to count

    write_results(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
