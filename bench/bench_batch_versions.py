"""One 10,000-patient batch, end to end, on several checkouts of the service side by side.

    python bench/bench_batch_versions.py NAME=PATH [NAME=PATH ...] [--repeats 7]

Each PATH is a copy of the repository (e.g. `git archive <commit> | tar -x -C PATH`, with
`.venv` and the data set linked in); a NAME ending in `+ENV=VALUE` also sets that
variable for its server. All servers run at once (one worker each, this machine's
BentoML home) and are asked in turn, so machine noise hits them alike; medians of
curl's time_total are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tests.servers as servers  # noqa: E402
from bench.bench_service import batch_body, batch_seconds_curl  # noqa: E402
from tests.environment import server_environment  # noqa: E402


@contextlib.contextmanager
def server_in(root: Path, name: str, home: Path, logs: Path, env: dict[str, str]):
    """`bentoml serve service.py` run from ``root`` rather than this checkout."""
    command = [str(servers.BIN / "bentoml"), "serve", "service.py", "--host", "127.0.0.1"]
    command += ["--port", "{port}"]
    environment = server_environment(BENTOML_HOME=str(home), **env)
    original, servers.REPO_ROOT = servers.REPO_ROOT, root
    try:
        with servers.loopback_server(name, command, environment, logs, "/readyz", 120) as s:
            servers.REPO_ROOT = original
            yield s
    finally:
        servers.REPO_ROOT = original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", help="NAME=PATH, NAME+ENV=VALUE=PATH")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    body = logs / "batch.json"
    body.write_bytes(batch_body())
    timings: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        running = {}
        for version in args.versions:
            name, path = version.rsplit("=", 1)
            env = dict([name.split("+", 1)[1].split("=", 1)]) if "+" in name else {}
            running[name] = stack.enter_context(server_in(Path(path), name, home, logs, env))
            timings[name] = []
        for url in (s.url for s in running.values()):
            batch_seconds_curl(url, body, repeats=2)  # warm up
        for _ in range(args.repeats):
            for name, server in running.items():
                timings[name] += batch_seconds_curl(server.url, body, repeats=1)
    for name, seconds in timings.items():
        print(f"{name}: median {statistics.median(seconds):.3f} s of {seconds}")  # noqa: T201
    print(f"load average at the end: {os.getloadavg()}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
