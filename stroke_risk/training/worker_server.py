"""Worker processes that start with the training command's imports already done.

The model search, the interval refits and validation run in joblib's loky workers. By
default each worker is a fresh interpreter that imports scikit-learn, pandas, SciPy and
XGBoost again when its first task arrives: about 2.5 s of CPU per worker, spent after the
main process has done the same imports and while it waits (bench/README.md).

:func:`start_worker_server`, called by `training.py` before its own imports, starts a
multiprocessing fork server instead. The server imports the script's modules once, on the
other core, while the main process does the same; each worker is then forked from it with
everything loaded, in milliseconds. Forking from the server rather than from the main
process is what makes this safe: the server has run no computation and started no BLAS or
OpenMP threads (its thread limits are set in its environment before it imports anything),
and it holds no locks of the main process's threads.

The workers compute exactly what loky's workers computed: the same code on the same data
with the same number of BLAS/OpenMP threads, by joblib's own rule for its workers (the
variable as the caller set it, else the CPUs divided by the jobs).

Standard library only at import time, so that the script can call it first.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import multiprocessing
import os
import signal
from multiprocessing import forkserver
from pathlib import Path


def jobs_argument(argv: list[str], default: int) -> int:
    """The ``--jobs`` value in ``argv`` before the script's own parser runs; ``default`` if
    absent or not a number (the script's parser then says what is wrong)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--jobs", type=int, default=default)
    try:
        return parser.parse_known_args(argv)[0].jobs
    except argparse.ArgumentError:
        return default


def worker_threads(n_jobs: int, cpus: int) -> dict[str, str]:
    """The thread limits joblib gives each of ``n_jobs`` workers on ``cpus`` CPUs: its own
    list of variables, each as the caller set it, else the CPUs divided by the jobs."""
    from joblib._parallel_backends import ParallelBackendBase

    default = max(cpus // n_jobs, 1)
    return {
        name: os.environ.get(name, str(default))
        for name in ParallelBackendBase.MAX_NUM_THREADS_VARS
    }


def start_worker_server(script: str, n_jobs: int) -> bool:
    """Start the fork server, preloading ``script``'s imports; joblib's workers come from it.

    ``script`` is the running script's ``__file__``: the server imports it by name as a
    module (its ``__main__`` block does not run), so it loads what the script loads. The
    server finds it by name in the working directory, so this is done only when the script
    is run from its own directory, as `make train` does; otherwise (False) nothing changes
    and the workers start as loky starts them. Stopped and waited for when the interpreter
    exits, after joblib has stopped its workers, so no process outlives the command and
    the workers' CPU time counts as the command's.
    """
    if Path(script).resolve().parent != Path.cwd().resolve():
        return False
    # joblib's CPU count (it honours CPU affinity and quotas) and loky's start method.
    from joblib import cpu_count
    from joblib.externals.loky.backend.context import set_start_method

    set_start_method("forkserver", force=True)
    multiprocessing.set_forkserver_preload([Path(script).stem])
    saved = dict(os.environ)
    try:
        os.environ.update(worker_threads(n_jobs, cpu_count()))
        forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    atexit.register(stop_worker_server)
    return True


def stop_worker_server() -> None:
    """Stop the fork server and wait for it; its workers are stopped by then (joblib's exit
    hook runs before ``atexit``'s). The server holds nothing to save, so it is sent SIGTERM
    rather than left to tear its interpreter down (half a second). The standard library
    has no public call to stop its fork server; ``_stop``, which closes its pipe, waits for
    it and removes its socket, is the one its own tests use. Without it the server stops by
    itself when this process exits, unwaited."""
    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    stop = getattr(server, "_stop", None)
    if pid is None or stop is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    stop()
