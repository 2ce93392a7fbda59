"""Container benchmark: the image under podman against `bentoml serve` outside it, A B A B.

    scripts/container/local_pipeline.sh base build registry push    # image in the registry
    BENTOML_HOME=<the store the Bento was built from> \\
        .venv/bin/python bench/container/bench_container.py [--duration 15] [--rounds 2]
    scripts/container/local_pipeline.sh clean

Each round starts each side afresh: A is `bentoml serve service.py` on 127.0.0.1, B is the
pushed image run by podman with 127.0.0.1:PORT published to the container's port 3000, as on
Fargate: read-only root filesystem, volumes where the image declares them.
ready_s runs from starting the process (`podman run`) to the first 200 from /readyz;
created_s until `podman run` returns (podman creates the container: with the vfs storage
driver, a copy of the whole image, the "unpack"); service_ready_s is the difference, the
service process alone. In the container the start-up is then taken apart
(`startup_probe`): the interpreter, importing service.py (BentoML, pydantic, numpy, the
package), loading the model; what remains of service_ready_s is BentoML's arbiter and its
workers (each imports the service and loads the model itself, in parallel). Memory per
process (RSS, from the host: podman's processes are the host's) is read at rest and right
after two 10,000-patient batches. Then wrk (Debian package) warms up for 3 s and measures
--duration seconds of POST /predict with bench/post_patient.lua, loopback only.
Results go to bench/container/results.json; see bench/container/README.md.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.bench_service import (  # noqa: E402
    AS_SHIPPED,
    batch_body,
    load_arguments,
    write_results,
    wrk,
)
from stroke_risk.core.config import REPO_ROOT  # noqa: E402
from tests.servers import bentoml_server, free_port, private_bentoml_home  # noqa: E402

logger = logging.getLogger("bench.container")
PIPELINE = REPO_ROOT / "scripts" / "container" / "local_pipeline.sh"
SCRATCH = Path(
    os.environ.get("CONTAINER_SCRATCH")
    or Path(os.environ.get("TMPDIR", "/tmp")) / "stroke-risk-container"
)
CONTAINER = "stroke-risk-bench"
BASE_IMAGE = "docker.io/library/python:3.11-slim"


def pipeline(*args: str, timeout: float = 120) -> str:
    """Run local_pipeline.sh (podman/skopeo on the pipeline's storage); its stdout."""
    completed = subprocess.run(
        [str(PIPELINE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{completed.stderr[-2000:]}")
    return completed.stdout.strip()


def state(name: str) -> str | None:
    path = SCRATCH / "state" / name
    return path.read_text().strip() if path.exists() else None


def wait_ready(url: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/readyz not ready after {timeout} s")


def measure(url: str, started: float, connections: int, duration: int) -> dict[str, float]:
    wait_ready(url)
    ready_s = time.monotonic() - started
    wrk(f"{url}/predict", connections, 3)  # warm-up, not recorded
    return {"ready_s": round(ready_s, 2), **wrk(f"{url}/predict", connections, duration)}


def run_outside(home: Path, logs: Path, connections: int, duration: int) -> dict[str, float]:
    started = time.monotonic()
    # As shipped, like the container: one worker per CPU (test servers run one).
    with bentoml_server(home, logs, timeout=240, env=AS_SHIPPED) as server:
        return measure(server.url, started, connections, duration)


# Run inside the running container (podman exec): where a worker's start-up time goes.
# The model store is the Bento's own, as `bentoml serve` sets it for a Bento.
STARTUP_PROBE = """
import json, os, sys, time
import psutil
started = psutil.Process().create_time()
t0 = time.time()
bento = os.environ["BENTO_PATH"]
sys.path.insert(0, os.path.join(bento, "src"))
os.chdir(os.path.join(bento, "src"))
import bentoml
from bentoml._internal.configuration.containers import BentoMLContainer
from bentoml._internal.models import ModelStore
BentoMLContainer.model_store.set(ModelStore(os.path.join(bento, "models")))
t1 = time.time()
import service
t2 = time.time()
from stroke_risk.assessment.model_loading import load_assessor
load_assessor(bentoml.models.get(service.settings.model_tag), service.settings)
t3 = time.time()
print(json.dumps({"interpreter_s": round(t0 - started, 3), "import_bentoml_s": round(t1 - t0, 3),
                  "import_service_s": round(t2 - t1, 3), "model_load_s": round(t3 - t2, 3)}))
"""
BATCH_PATIENTS = 10_000


def process_memory(pid: int) -> dict[str, float]:
    """RSS in MB of a service's processes: the arbiter (``pid``, `bentoml serve`), its
    workers, and anything else it started; seen from the host."""
    root = psutil.Process(pid)
    memory: dict[str, float] = {"arbiter_mb": round(root.memory_info().rss / 2**20, 1)}
    workers, others = [], []
    for child in root.children(recursive=True):
        rss = round(child.memory_info().rss / 2**20, 1)
        (workers if "worker" in " ".join(child.cmdline()) else others).append(rss)
    memory["workers_mb"] = workers
    memory["other_processes_mb"] = others
    return memory


def memory_at_rest_and_after_batches(url: str, pid: int) -> dict[str, dict[str, float]]:
    """Memory idle after start, then right after two 10,000-patient batches."""
    at_rest = process_memory(pid)
    body = batch_body(BATCH_PATIENTS)
    for _ in range(2):
        reply = requests.post(
            f"{url}/predict_batch",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        reply.raise_for_status()
    return {"at_rest": at_rest, "after_10k_batches": process_memory(pid)}


def run_container(image: str, connections: int, duration: int) -> dict[str, float]:
    port = free_port()
    pipeline("podman", "rm", "--force", "--ignore", CONTAINER)
    started = time.monotonic()
    pipeline(
        "podman",
        "run",
        "--detach",
        "--name",
        CONTAINER,
        "--read-only",
        "--read-only-tmpfs=false",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        # Loopback only: the image refuses to start without keys unless told so.
        "--env",
        "STROKE_ALLOW_ANONYMOUS=true",
        "--publish",
        f"127.0.0.1:{port}:3000",
        image,
    )
    # With the vfs storage driver, `podman run` first copies the whole image.
    created_s = round(time.monotonic() - started, 2)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        ready_s = round(time.monotonic() - started, 2)
        pid = int(pipeline("podman", "inspect", "--format", "{{.State.Pid}}", CONTAINER))
        probe = json.loads(pipeline("podman", "exec", CONTAINER, "python", "-c", STARTUP_PROBE))
        memory = memory_at_rest_and_after_batches(url, pid)
        return {
            "created_s": created_s,
            "service_ready_s": round(ready_s - created_s, 2),
            **probe,
            "memory": memory,
            **measure(url, started, connections, duration),
            "ready_s": ready_s,
        }
    finally:
        pipeline("podman", "rm", "--force", "--volumes", "--time", "10", CONTAINER)


def image_sizes(image: str) -> dict[str, int]:
    size = pipeline("podman", "image", "inspect", "--format={{.Size}}", image)
    sizes = {"image_bytes": int(size)}
    try:  # the base the image starts from (here the stand-in for python:3.11-slim)
        base = pipeline("podman", "image", "inspect", "--format={{.Size}}", BASE_IMAGE)
        sizes["base_image_bytes"] = int(base)
    except RuntimeError as error:
        logger.warning("base image size unknown: %s", error)
    try:  # what the registry stores (and ECR would bill): the compressed layers
        raw = pipeline("skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{image}")
        manifest = json.loads(raw)
        sizes["compressed_layers_bytes"] = sum(layer["size"] for layer in manifest["layers"])
    except (RuntimeError, KeyError, json.JSONDecodeError) as error:
        logger.warning("compressed size unknown (is the registry running?): %s", error)
    return sizes


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = load_arguments(__doc__, REPO_ROOT / "bench" / "container" / "results.json")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 5 or not 1 <= args.duration <= 60:
        parser.error("keep it bounded: 1-5 rounds of 1-60 s")
    image = state("remote")
    if image is None:
        parser.error(f"no pushed image in {SCRATCH}: run local_pipeline.sh build registry push")
    if state("container"):
        pipeline("stop")  # the pipeline's own container would share the two cores
    # Into podman's storage first: `podman run` would try to pull it over HTTPS, and the
    # loopback registry speaks plain HTTP. A no-op when `local_pipeline.sh run` pulled it.
    pipeline("podman", "pull", "--quiet", "--tls-verify=false", image, timeout=900)
    source_home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    work = Path(tempfile.mkdtemp(prefix="bench-container-"))
    home = private_bentoml_home(source_home, work / "home")

    runs: dict[str, list[dict[str, float]]] = {"outside": [], "container": []}
    for round_ in range(args.rounds):
        for side in ("outside", "container"):
            if side == "outside":
                run = run_outside(home, work, args.connections, args.duration)
            else:
                run = run_container(image, args.connections, args.duration)
            runs[side].append(run)
            logger.info("round %d %-9s %s", round_ + 1, side, run)

    def median(side: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[side])

    summary = {
        "image": image,
        **image_sizes(image),
        **{
            f"{step}_seconds": int(state(f"{step}_seconds") or 0) or None
            for step in ("build", "push", "pull")
        },
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        **{
            f"{side}_{key}_median": median(side, key)
            for side in ("outside", "container")
            for key in ("rps", "p50_ms", "p99_ms", "ready_s")
        },
        **{
            f"container_{key}_median": statistics.median(r[key] for r in runs["container"])
            for key in (
                "created_s",
                "service_ready_s",
                "interpreter_s",
                "import_bentoml_s",
                "import_service_s",
                "model_load_s",
            )
        },
        "container_worker_mb_at_rest_max": max(
            max(r["memory"]["at_rest"]["workers_mb"]) for r in runs["container"]
        ),
        "container_worker_mb_after_10k_batches_max": max(
            max(r["memory"]["after_10k_batches"]["workers_mb"]) for r in runs["container"]
        ),
        "container_arbiter_mb_max": max(
            r["memory"]["after_10k_batches"]["arbiter_mb"] for r in runs["container"]
        ),
        "load_average_at_end": os.getloadavg(),
        "container_to_outside_rps": median("container", "rps") / median("outside", "rps"),
        "errors": sum(run["errors"] for side in runs.values() for run in side),
        "runs": runs,
    }
    write_results(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
