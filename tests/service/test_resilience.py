"""The service under abuse and faults: batches beyond what a worker takes, SIGTERM under
load, and a worker killed under load (security review; docs/operators/operations.md).
Real `bentoml serve` processes on loopback; bounded counts, no timings beyond
deadlines far above what is expected. The speeds are measured in bench/bench_resilience.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import psutil
import pytest
import requests

from tests.conftest import EXAMPLE_PATIENT
from tests.load import PatientLoad
from tests.servers import bentoml_server, private_bentoml_home

pytestmark = pytest.mark.slow

BATCH = json.dumps({"patients": [EXAMPLE_PATIENT] * 10_000}).encode()
JSON = {"Content-Type": "application/json"}
# The container's health check gives up after 4 s and the ALB's after 5 s; one second is
# far above the milliseconds /readyz takes, and far below what 8 batches scored on the
# event loop made it wait.
HEALTH_CHECK_DEADLINE = 1.0


@pytest.fixture(scope="module")
def one_worker(quick_training, bentoml_home, tmp_path_factory):
    """One worker (as on a 0.5-vCPU task) admitting one batch at a time."""
    home = private_bentoml_home(bentoml_home, tmp_path_factory.mktemp("home-resilience"))
    env = {"STROKE_MAX_CONCURRENT_BATCHES": "1", "STROKE_BUSY_RETRY_AFTER": "1"}
    with bentoml_server(home, tmp_path_factory.mktemp("logs-resilience"), env=env) as server:
        yield server


def post_batch(url: str) -> requests.Response:
    return requests.post(f"{url}/predict_batch", data=BATCH, headers=JSON, timeout=60)


def workers_of(server) -> list[psutil.Process]:
    """The server's live worker processes (a killed one is a zombie until reaped)."""
    workers = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if any("_bentoml_impl.worker.service" in part for part in child.cmdline()):
                workers.append(child)
        except psutil.Error:  # gone, or a zombie not yet reaped by the arbiter
            continue
    return workers


def listening(process: psutil.Process) -> bool:
    try:
        return any(c.status == "LISTEN" for c in process.net_connections("tcp"))
    except psutil.NoSuchProcess:
        return False


def replaced(server, known: frozenset[int]) -> bool:
    """Whether a worker not in ``known`` is up and listening."""
    return any(w.pid not in known and listening(w) for w in workers_of(server))


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_batches_beyond_the_limit_get_503_with_retry_after(one_worker):
    replies: list[requests.Response] = []
    threads = [
        threading.Thread(target=lambda: replies.append(post_batch(one_worker.url)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = Counter(reply.status_code for reply in replies)
    assert set(statuses) == {200, 503}, statuses
    for reply in replies:
        if reply.status_code == 503:
            assert reply.headers["Retry-After"] == "1"
            assert "busy" in reply.json()["error"]
        else:
            assert len(reply.json()["results"]) == 10_000


def test_readyz_answers_while_batches_run(one_worker):
    """Eight clients keep one worker scoring batches back to back (retrying on 503)."""
    statuses: Counter[int] = Counter()

    def client() -> None:
        for _ in range(100):  # bounded: a 503 comes back in milliseconds
            reply = post_batch(one_worker.url)
            statuses[reply.status_code] += 1
            if reply.status_code == 200:
                return
            time.sleep(0.1)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    probes: list[int | str] = []
    while any(thread.is_alive() for thread in clients) and len(probes) < 400:
        try:
            reply = requests.get(f"{one_worker.url}/readyz", timeout=HEALTH_CHECK_DEADLINE)
            probes.append(reply.status_code)
        except requests.Timeout:
            probes.append("timed out")
        time.sleep(0.05)
    for thread in clients:
        thread.join()
    assert statuses[200] == 8 and set(statuses) <= {200, 503}, statuses
    assert len(probes) >= 5, "the batches ended before /readyz could be asked"
    assert set(probes) == {200}, Counter(probes)


def test_sigterm_drains_without_losing_an_accepted_request(quick_training, bentoml_home, tmp_path):
    """/readyz turns 503 at once, requests are served for the grace period, then new
    connections are refused, every accepted one is answered, and the service exits 0."""
    home = private_bentoml_home(bentoml_home, tmp_path / "home")
    grace = 1.5
    env = {"STROKE_SHUTDOWN_GRACE": str(grace)}
    with bentoml_server(home, tmp_path, env=env) as server, PatientLoad(server.url, 8) as load:
        wait_for(lambda: load.counts()["ok"] >= 20, timeout=30)
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)  # the main process only, as docker does
        readyz = None
        while readyz != 503 and time.monotonic() - signalled < grace:
            readyz = requests.get(f"{server.url}/readyz", timeout=5).status_code
        readyz_turned = time.monotonic()
        exit_code = server.process.wait(timeout=60)
        stopped = time.monotonic()
        time.sleep(0.3)  # the clients now find the port closed
    assert readyz == 503
    assert load.counts(since=readyz_turned)["ok"] > 0, "nothing served during the grace period"
    assert stopped - signalled >= grace
    assert load.failed() == Counter(), load.counts()
    assert exit_code == 0, server.log()[-2000:]


def test_a_killed_worker_is_replaced_while_the_other_answers(
    quick_training, bentoml_home, tmp_path
):
    """kill -9 of each worker in turn, as in the container (where BentoML alone would not
    restart them): the other keeps answering, /readyz stays 200, the dead one is replaced,
    and only requests in flight on it can fail."""
    home = private_bentoml_home(bentoml_home, tmp_path / "home")
    env = {"STROKE_WORKERS": "2", "BENTOML_CONTAINERIZED": "true"}
    clients = 8
    readyz: Counter[int | str] = Counter()
    with (
        bentoml_server(home, tmp_path, env=env) as server,
        PatientLoad(server.url, clients) as load,
    ):
        probing = True

        def probe() -> None:
            while probing:
                try:
                    readyz[requests.get(f"{server.url}/readyz", timeout=30).status_code] += 1
                except requests.RequestException as error:
                    readyz[type(error).__name__] += 1
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            wait_for(lambda: load.counts()["ok"] >= 20, timeout=30)
            originals = workers_of(server)
            assert len(originals) == 2
            seen = {w.pid for w in originals}
            for victim in originals:
                victim.kill()
                killed = time.monotonic()
                assert wait_for(lambda known=frozenset(seen): replaced(server, known), 60), (
                    server.log()[-2000:]
                )
                seen |= {w.pid for w in workers_of(server)}
                wait_for(lambda since=killed: load.counts(since)["ok"] >= 20, timeout=30)
            served_by_replacements = load.counts(since=killed)["ok"]
        finally:
            probing = False
            prober.join()
    assert served_by_replacements >= 20  # both originals are dead by now
    # At most one request per client was in flight on each killed worker.
    assert sum(load.failed().values()) <= 2 * clients, load.counts()
    # Never a wrong answer; one probe at a time, so at most the one in flight on each
    # killed worker fails.
    assert readyz[200] > 0 and set(readyz) <= {200, "ConnectionError"}, readyz
    assert readyz["ConnectionError"] <= 2, readyz
