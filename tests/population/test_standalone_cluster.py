"""The job on a real Spark standalone cluster on loopback: a master and two workers (one
core, 1 GB each) started with the pyspark distribution's own ``spark-class``, the job sent
with ``spark-submit --master spark://127.0.0.1:PORT`` and the model sent as a file, as on a
real cluster. The cluster is stopped afterwards, also when a test fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import bentoml
import pandas as pd
import pytest
import requests

from stroke_risk.core.config import REPO_ROOT
from tests.population.conftest import MODEL_TAG
from tests.population.test_scoring import service_results
from tests.servers import free_port, stop

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
WORKERS = 2


def _start(name: str, arguments: list[str], environment: dict, logs: Path) -> subprocess.Popen:
    with (logs / f"{name}.log").open("w") as log:
        return subprocess.Popen(
            [str(BIN / "spark-class"), *arguments],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() ends the JVM and anything it started
        )


def _wait_for_workers(ui: str, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            text = "\n".join(p.read_text()[-2000:] for p in logs.glob("*.log"))
            raise RuntimeError(f"a Spark daemon exited:\n{text}")
        try:
            if requests.get(f"{ui}/json/", timeout=2).json().get("aliveworkers") == WORKERS:
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(1)
    raise RuntimeError(f"{WORKERS} workers did not register with the master within 120 s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with two one-core, 1 GB workers."""
    logs = tmp_path_factory.mktemp("spark-logs")
    environment = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_LOCAL_DIRS": str(tmp_path_factory.mktemp("spark-local")),
    }
    port, ui_port = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    with ExitStack() as stack:
        master = _start(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)),
            ],
            environment,
            logs,
        )
        stack.callback(stop, master)
        processes = [master]
        for number in range(WORKERS):
            work = tmp_path_factory.mktemp(f"worker-{number}")
            worker = _start(
                f"worker-{number}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    *("--host", "127.0.0.1", "--cores", "1", "--memory", "1g"),
                    *("--webui-port", str(free_port()), "--work-dir", str(work)),
                    master_url,
                ],
                environment,
                logs,
            )
            stack.callback(stop, worker)  # workers stop first (callbacks run in reverse)
            processes.append(worker)
        _wait_for_workers(f"http://127.0.0.1:{ui_port}", processes, logs)
        yield master_url


@pytest.fixture(scope="module")
def model_file(stored_model, tmp_path_factory) -> Path:
    """The session's model exported as a file: what travels to a real cluster."""
    path = tmp_path_factory.mktemp("model") / "stroke_risk_model.bentomodel"
    bentoml.models.export_model(MODEL_TAG, str(path))
    return path


def submit(master: str, *arguments: str) -> subprocess.CompletedProcess:
    """``spark-submit`` in client mode: the executors get this interpreter and checkout."""
    return subprocess.run(
        [
            str(BIN / "spark-submit"),
            *("--master", master),
            *("--conf", "spark.executor.memory=512m", "--conf", "spark.executor.cores=1"),
            *("--conf", "spark.cores.max=2", "--conf", "spark.sql.shuffle.partitions=2"),
            *("--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false"),
            *("--conf", f"spark.executorEnv.PYTHONPATH={REPO_ROOT}"),
            *("--conf", f"spark.pyspark.python={sys.executable}"),
            str(REPO_ROOT / "jobs" / "score_population.py"),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )


def test_the_job_scores_on_a_standalone_cluster_with_the_model_as_a_file(
    cluster, model_file, population_csv, assessor, tmp_path
) -> None:
    output = tmp_path / "out"
    done = submit(
        cluster,
        *("--input", str(population_csv), "--output", str(output)),
        *("--model", str(model_file), "--group-by", "practice_id"),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # spark-submit passes the Python driver's stderr on to its own stdout.
    assert "stroke_risk.population done" in done.stdout + done.stderr
    scored = pd.read_parquet(output / "scored").set_index("id")
    expected = service_results(assessor, pd.read_csv(population_csv, dtype=str))
    assert sorted(scored.index) == sorted(expected)
    for reference, result in expected.items():
        assert abs(scored.loc[reference, "probability"] - result.probability) <= 1e-9
        assert scored.loc[reference, "risk_band"] == result.risk_band
    assert (output / "rejected").is_dir() and (output / "summary.json").is_file()


def test_a_failing_job_exits_non_zero_with_a_one_line_reason(cluster, model_file, tmp_path):
    done = submit(
        cluster,
        *("--input", str(tmp_path / "missing.parquet"), "--output", str(tmp_path / "out")),
        *("--model", str(model_file)),
    )
    assert done.returncode == 1
    assert "error: " in done.stdout + done.stderr
