"""Starting and stopping real servers for the tests, on free 127.0.0.1 ports.

Every server gets its own BentoML home (a copy of the session's model store): servers
sharing one home wipe each other's Prometheus files at start. Servers get none of the
developer's STROKE_* settings, and one worker unless their test asks for more
(tests/environment.py).

A free port is found by binding port 0 and closing the socket, so another process can take
it before the server binds it; a server that then fails with "address already in use" is
started again on another port.
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
from tests.environment import server_environment

BIN = Path(sys.executable).parent
APP_PATH = REPO_ROOT / "app" / "app.py"
PORT_ATTEMPTS = 3
PORT_TAKEN = ("address already in use", "errno 98")


class PortTakenError(RuntimeError):
    """The server could not bind its port: something took it after free_port() chose it."""


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

    def log_size(self) -> int:
        return len(self.log())

    def log_since(self, offset: int, expect: str, timeout: float = 10) -> str:
        """The log written after ``offset`` (a ``log_size()``), once it contains ``expect``:
        a log test's control must see its own requests, not earlier tests'."""
        deadline = time.monotonic() + timeout
        while expect not in (written := self.log()[offset:]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert expect in written, f"{expect!r} not logged within {timeout}s:\n{written[-2000:]}"
        return written


def wait_until_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            error = PortTakenError if any(s in log.lower() for s in PORT_TAKEN) else RuntimeError
            raise error(f"server exited with {process.returncode}:\n{log[-3000:]}")
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
    for attempt in range(1, PORT_ATTEMPTS + 1):
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
        except PortTakenError:
            stop(process)
            if attempt == PORT_ATTEMPTS:
                raise
            continue
        except BaseException:
            stop(process)
            raise
        try:
            yield RunningServer(url, process, log_path)
        finally:
            stop(process)
        return


def bentoml_command(target: str = "service.py") -> list[str]:
    """`bentoml serve <target>` on 127.0.0.1, its port left as ``{port}`` for loopback_server."""
    return [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", "{port}"]


@contextmanager
def bentoml_server(
    home: Path,
    log_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    target: str = "service.py",
) -> Iterator[RunningServer]:
    """`bentoml serve <target>` on a free loopback port, stopped on exit; ``env`` holds the
    settings this server runs with (see server_environment)."""
    environment = server_environment(BENTOML_HOME=str(home), **(env or {}))
    command = bentoml_command(target)
    with loopback_server("bentoml", command, environment, log_dir, "/readyz", timeout) as server:
        yield server


@contextmanager
def streamlit_server(
    environment: dict[str, str], log_dir: Path, timeout: float = 60
) -> Iterator[RunningServer]:
    """`streamlit run app/app.py` on a free loopback port, as `make app` starts it, with
    ``environment``. The app must import this checkout's package: `streamlit run` does not
    put the checkout on the path, so an installed copy (e.g. another worktree's editable
    install) would load; the checkout goes first on PYTHONPATH."""
    path = [str(REPO_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    environment = {**environment, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        str(BIN / "streamlit"),
        "run",
        str(APP_PATH.relative_to(REPO_ROOT)),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        "{port}",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with loopback_server(
        "streamlit", command, environment, log_dir, "/_stcore/health", timeout
    ) as server:
        yield server


def serve_and_fail(home: Path, without: tuple[str, ...] = (), **settings: str) -> str:
    """Start `bentoml serve service.py` with the test servers' settings less the names in
    ``without``, then ``settings``; it must exit at once, without a traceback. Its output."""
    environment = server_environment(BENTOML_HOME=str(home))
    for name in without:
        environment.pop(name, None)
    environment.update(settings)
    completed = subprocess.run(
        [part.format(port=0) for part in bentoml_command()],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    return output
