"""Starting and stopping real servers for the tests, on free 127.0.0.1 ports.

Every server gets its own BentoML home (a copy of the session's model store): servers
sharing one home wipe each other's Prometheus files at start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from stroke_risk.core.config import REPO_ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def private_bentoml_home(source_home: Path, destination: Path) -> Path:
    """A new BentoML home holding a copy of ``source_home``'s models."""
    destination.mkdir(parents=True, exist_ok=True)
    if (source_home / "models").exists():
        shutil.copytree(source_home / "models", destination / "models", dirs_exist_ok=True)
    return destination


@contextmanager
def loopback_server(
    name: str,
    command: list[str],
    environment: dict[str, str],
    log_dir: Path,
    ready_path: str,
    timeout: float,
) -> Iterator[RunningServer]:
    """Run ``command`` (which must take the port from ``{port}``) on a free 127.0.0.1 port,
    wait for ``ready_path`` to answer 200, and stop its whole process group on exit."""
    port = free_port()
    log_path = log_dir / f"{name}-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [part.format(port=port) for part in command],
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}{ready_path}", process, log_path, timeout)
        yield RunningServer(url, process, log_path)
    finally:
        stop(process)


@contextmanager
def bentoml_server(
    home: Path,
    log_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    target: str = "service.py",
) -> Iterator[RunningServer]:
    """`bentoml serve <target>` on a free loopback port, stopped on exit."""
    environment = {
        **os.environ,
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        **(env or {}),
    }
    command = [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", "{port}"]
    with loopback_server("bentoml", command, environment, log_dir, "/readyz", timeout) as server:
        yield server
