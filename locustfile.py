"""Load test of the stroke-risk API: a realistic mix of single patients, batches and mistakes.

    make loadtest                                   (headless, 30 s, summary at the end)
    locust -f locustfile.py -H http://127.0.0.1:3000   (web UI on http://127.0.0.1:8089)

Patients are rows of the data set (healthcare-dataset-stroke-data.csv, or STROKE_DATA_PATH)
when present, else synthesised from the schema; see stroke_risk/loadtest/patients.py.
Set STROKE_API_KEY when the service requires a key, STROKE_LOAD_SEED for repeatable draws.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time

from locust import FastHttpUser, between, events, task
from locust.env import Environment

from stroke_risk.core.config import get_settings
from stroke_risk.loadtest.patients import PatientSampler

logger = logging.getLogger("stroke_risk.loadtest")

API_KEY = os.environ.get("STROKE_API_KEY") or None
SEED = int(os.environ["STROKE_LOAD_SEED"]) if os.environ.get("STROKE_LOAD_SEED") else None
# Read once per process; each user draws from it with its own random generator.
PATIENTS = PatientSampler.from_csv(get_settings().data_path).patients
_user_numbers = itertools.count()


def _failure(response, expected: str) -> None:
    response.failure(f"expected {expected}, got {response.status_code}: {response.text[:200]}")


class GpPracticeUser(FastHttpUser):
    """A practice's system scoring patients one at a time, sometimes a list, sometimes wrongly."""

    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        seed = None if SEED is None else SEED + next(_user_numbers)
        self.sampler = PatientSampler(PATIENTS, seed)
        self.headers = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}

    @task(20)
    def predict_one(self) -> None:
        with self.client.post(
            "/predict", json=self.sampler.patient(), headers=self.headers, catch_response=True
        ) as response:
            if response.status_code != 200:
                _failure(response, "200")
            elif not 0.0 <= response.json().get("probability", -1.0) <= 1.0:
                response.failure(f"no probability in {response.text[:200]}")

    @task(4)
    def predict_batch(self) -> None:
        size = self.sampler.batch_size()
        with self.client.post(
            "/predict_batch",
            json={"patients": self.sampler.batch(size)},
            headers=self.headers,
            catch_response=True,
        ) as response:
            retry_after = response.headers.get("Retry-After")
            if response.status_code == 503 and retry_after is not None:
                # The worker is already scoring a batch (STROKE_MAX_CONCURRENT_BATCHES): the
                # documented back-pressure, not a fault. A practice's system waits as told.
                response.success()
            elif response.status_code != 200:
                _failure(response, "200")
            elif len(response.json().get("results", [])) != size:
                response.failure(f"expected {size} results")
        if response.status_code == 503 and retry_after is not None:
            time.sleep(float(retry_after))  # gevent's sleep: only this user waits

    @task(1)
    def invalid_request(self) -> None:
        bad = self.sampler.rng.choice(self.sampler.invalid_requests(API_KEY))
        headers = {**self.headers, "Content-Type": bad.content_type, **bad.headers}
        with self.client.post(
            bad.path,
            data=bad.body,
            headers=headers,
            name=f"{bad.path} [{bad.name}: {bad.expected_status}]",
            catch_response=True,
        ) as response:
            # A refusal is the right answer here, so it counts as a success, and only then.
            if response.status_code == bad.expected_status:
                response.success()
            else:
                _failure(response, str(bad.expected_status))


@events.test_start.add_listener
def _announce(environment: Environment, **_: object) -> None:
    source = "the data set" if PATIENTS else "the schema (no data set found)"
    logger.info("Patients drawn from %s; API key: %s", source, "yes" if API_KEY else "no")


@events.quitting.add_listener
def _summarise(environment: Environment, **_: object) -> None:
    """One line a person can compare between runs, and the same as JSON for scripts."""
    total = environment.stats.total
    if not total.num_requests:
        logger.warning("No requests were made")
        return
    summary = {
        "requests": total.num_requests,
        "requests_per_s": round(total.total_rps, 1),
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "failures": total.num_failures,
        "failure_ratio": round(total.fail_ratio, 4),
    }
    logger.info(
        "Summary: %(requests)d requests, %(requests_per_s).1f req/s, p50 %(p50_ms)s ms, "
        "p95 %(p95_ms)s ms, p99 %(p99_ms)s ms, %(failures)d failures",
        summary,
    )
    logger.info("Summary JSON: %s", json.dumps(summary))
