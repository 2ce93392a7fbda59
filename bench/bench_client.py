"""The generated Python client's cost per `/predict` call, against a raw `requests` call.

    make clients                                    # generates clients/python
    .venv/bin/python bench/bench_client.py [--requests 500] [--rounds 5]
    (writes bench/results/client.json)

One real `bentoml serve service.py` (one worker) on loopback, one connection each, rounds
alternating: `requests.Session.post` of the README's patient and `predict.sync` of the
client made by `openapi-python-client` (`make clients`), which also parses the reply into
typed objects. The bar: the client's median latency at most 1 ms above the raw call's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from stroke_risk_client import AuthenticatedClient  # noqa: E402
from stroke_risk_client.api.scoring import predict  # noqa: E402
from stroke_risk_client.models import Patient  # noqa: E402

from tests.conftest import EXAMPLE_PATIENT  # noqa: E402
from tests.servers import bentoml_server  # noqa: E402


def raw_calls(session: requests.Session, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        reply = session.post(f"{url}/predict", json=EXAMPLE_PATIENT, timeout=10)
        reply.json()
        out.append(1000 * (time.perf_counter() - start))
    return out


def client_calls(client: AuthenticatedClient, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        result = predict.sync(client=client, body=Patient.from_dict(EXAMPLE_PATIENT))
        out.append(1000 * (time.perf_counter() - start))
        assert result is not None and 0 <= result.probability <= 1
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/client.json")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"raw": [], "client": []}
    with (
        tempfile.TemporaryDirectory() as logs,
        bentoml_server(Path.home() / "bentoml", Path(logs), env={"STROKE_WORKERS": "1"}) as server,
        requests.Session() as session,
    ):
        client = AuthenticatedClient(base_url=server.url, token="unused")
        raw_calls(session, server.url, 50), client_calls(client, 50)  # warm-up
        for _ in range(args.rounds):
            runs["raw"].append(statistics.median(raw_calls(session, server.url, args.requests)))
            runs["client"].append(statistics.median(client_calls(client, args.requests)))
            print({name: round(values[-1], 3) for name, values in runs.items()}, flush=True)  # noqa: T201
    summary = {
        "requests_per_round": args.requests,
        "raw_p50_ms_median": statistics.median(runs["raw"]),
        "client_p50_ms_median": statistics.median(runs["client"]),
        "client_minus_raw_ms": statistics.median(
            c - r for c, r in zip(runs["client"], runs["raw"], strict=True)
        ),
        "runs_p50_ms": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs_p50_ms"}, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
