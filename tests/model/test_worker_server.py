"""The training command's workers come from a fork server that did the command's imports
once (stroke_risk/training/worker_server.py), and compute what loky's own workers compute.

Each test runs a small script in its own interpreter, as `training.py` runs: the fork
server and joblib's start method are process-wide, so they are never set in pytest's.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stroke_risk.training.worker_server import jobs_argument, start_worker_server, worker_threads

SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    import time

    from stroke_risk.training.worker_server import start_worker_server

    if __name__ == "__main__":
        assert start_worker_server(__file__, 2)

    import json

    import numpy as np
    from joblib import Parallel, cpu_count, delayed
    from threadpoolctl import threadpool_info, threadpool_limits

    from stroke_risk.training.bootstrap_refits import bootstrap_refits
    from stroke_risk.training.dataset import load_training_data
    from stroke_risk.training.families import candidates
    from stroke_risk.training.lean_compile import frame_to_columns
    from stroke_risk.training.worker_server import worker_threads

    IMPORTED_BY = os.getpid()


    def where(_):
        preloaded = sys.modules[os.path.splitext(os.path.basename(__file__))[0]]
        return {
            "pid": os.getpid(),
            "parent": os.getppid(),
            "imported_by": preloaded.IMPORTED_BY,
            "openblas_threads": [
                pool["num_threads"]
                for pool in threadpool_info()
                if pool["internal_api"] == "openblas"
            ],
        }


    def busy(seconds):
        started = time.process_time()
        while time.process_time() - started < seconds:
            pass
        return os.getpid(), time.process_time()


    if __name__ == "__main__":
        from multiprocessing import forkserver

        workers = Parallel(n_jobs=2)(delayed(where)(i) for i in range(4))
        worker_cpu = dict(Parallel(n_jobs=2)(delayed(busy)(0.5) for i in range(4)))
        data = load_training_data(sys.argv[1])
        chosen = next(c for c in candidates(42) if c.name == "logistic_regression").pipeline
        chosen.set_params(model__C=0.1)
        columns = frame_to_columns(data)
        forked = bootstrap_refits(chosen, data, 4, seed=42, n_jobs=2)
        with threadpool_limits(limits=1):
            here = bootstrap_refits(chosen, data, 4, seed=42, n_jobs=1)
        gap = max(
            float(np.max(np.abs(a.predict(columns) - b.predict(columns))))
            for a, b in zip(forked, here, strict=True)
        )
        print(json.dumps({
            "main": os.getpid(),
            "server": forkserver._forkserver._forkserver_pid,
            "workers": workers,
            "worker_cpu_seconds": sum(worker_cpu.values()),
            "own_cpu_seconds": time.process_time(),
            "expected_threads": int(worker_threads(2, cpu_count())["OPENBLAS_NUM_THREADS"]),
            "largest_gap": gap,
        }))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, data_path: Path) -> dict:
    """The script's report: who ran the tasks, with how many threads, and the refits' gap."""
    script = tmp_path_factory.mktemp("worker-server") / "forked_workers.py"
    script.write_text(SCRIPT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [sys.executable, str(script), str(data_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=script.parent,  # as `make train` runs training.py: from its own directory
        env={name: value for name, value in os.environ.items() if not name.endswith("_THREADS")},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(completed.stdout)
    report["counted_cpu_seconds"] = sum(after[:2]) - sum(before[:2])
    return report


@pytest.mark.slow
def test_the_workers_are_forked_from_the_server_with_the_scripts_imports_done(run: dict) -> None:
    assert run["server"] not in (None, run["main"])
    for worker in run["workers"]:
        assert worker["parent"] == run["server"]
        # The script's module body ran in the server, not again in the worker.
        assert worker["imported_by"] == run["server"]


@pytest.mark.slow
def test_the_workers_run_joblibs_number_of_blas_threads(run: dict) -> None:
    for worker in run["workers"]:
        assert worker["openblas_threads"]
        assert set(worker["openblas_threads"]) == {run["expected_threads"]}


@pytest.mark.slow
def test_refits_in_the_forked_workers_equal_refits_in_the_main_process(run: dict) -> None:
    assert run["largest_gap"] == 0.0


@pytest.mark.slow
def test_no_worker_or_server_outlives_the_script(run: dict) -> None:
    for pid in {run["server"], *(worker["pid"] for worker in run["workers"])}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_the_workers_cpu_time_counts_as_the_scripts(run: dict) -> None:
    """What `time make train` and the benchmark's CPU figures read: the server and its
    workers are waited for, so their CPU time reaches the script's parent."""
    assert run["worker_cpu_seconds"] >= 2 * 0.5
    assert run["counted_cpu_seconds"] >= run["own_cpu_seconds"] + run["worker_cpu_seconds"]


def test_the_jobs_are_read_before_the_scripts_own_parser() -> None:
    assert jobs_argument([], 2) == 2
    assert jobs_argument(["--quick", "--jobs", "1"], 2) == 1
    assert jobs_argument(["--jobs=3"], 2) == 3
    # Left to the script's parser to refuse, with its own message.
    assert jobs_argument(["--jobs", "two"], 2) == 2
    assert jobs_argument(["--jobs"], 2) == 2


def test_the_thread_limits_follow_joblibs_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    limits = worker_threads(2, cpus=8)
    assert limits["OPENBLAS_NUM_THREADS"] == "4"  # the CPUs divided by the jobs
    assert limits["OMP_NUM_THREADS"] == "3"  # as the caller set it
    assert worker_threads(4, cpus=2)["OPENBLAS_NUM_THREADS"] == "1"  # at least one


def test_a_script_run_from_another_directory_keeps_lokys_own_workers(tmp_path: Path) -> None:
    """The server finds the script by name in the working directory: elsewhere it would not
    (or would find another module of that name), so it is not started."""
    assert start_worker_server(str(tmp_path / "training.py"), 2) is False
