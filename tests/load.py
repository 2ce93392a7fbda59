"""Bounded client load for the resilience tests and bench/bench_resilience.py.

:class:`PatientLoad` runs client threads that each post the schema's example patient to
``/predict`` over a new connection per request, as many clients behind a load balancer
do, and records every outcome with its time. A connection that could not be made was
never accepted ("refused"); anything that goes wrong after connecting is a "failed"
request, the thing a drain or a crash must not cause.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter

from stroke_risk.core.schema import Patient

PATIENT = json.dumps(Patient.model_config["json_schema_extra"]["example"]).encode()
JSON = {"Content-Type": "application/json"}


class PatientLoad:
    """``clients`` threads posting one patient per new connection until the block ends."""

    def __init__(self, url: str, clients: int, timeout: float = 10) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.outcomes: list[tuple[float, str]] = []  # (time.monotonic(), outcome)
        self.running = True
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        while self.running:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                connection.connect()
            except OSError as error:
                self.outcomes.append((time.monotonic(), f"refused: {type(error).__name__}"))
                time.sleep(0.05)
                continue
            try:
                connection.request("POST", "/predict", body=PATIENT, headers=JSON)
                reply = connection.getresponse()
                reply.read()
                outcome = "ok" if reply.status == 200 else f"failed: HTTP {reply.status}"
            except (OSError, http.client.HTTPException) as error:
                outcome = f"failed: {type(error).__name__}"
            finally:
                connection.close()
            self.outcomes.append((time.monotonic(), outcome))

    def __enter__(self) -> PatientLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(timeout=self.timeout + 5)

    def counts(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        """Outcomes recorded between ``since`` and ``until`` (time.monotonic()), by kind."""
        return Counter(outcome for at, outcome in self.outcomes if since <= at < until)

    def failed(self, since: float = 0.0) -> Counter[str]:
        """Requests that went wrong after their connection was accepted."""
        return Counter({k: v for k, v in self.counts(since).items() if k.startswith("failed")})
