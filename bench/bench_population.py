"""Population-scoring benchmark: synthetic patients, Parquet in, scored Parquet out.

    python bench/bench_population.py [--rows 100000 1000000 5000000] [--master local[2]]
        [--rounds 3] [--big-rounds 2]

For each size: synthetic patients (bench/synthetic_patients.py, from the stored model's
training profile) are written once, then ``spark-submit jobs/score_population.py`` runs
end to end (JVM start, scoring, rank per practice, rejected/, summary) while the whole
process tree's resident memory is sampled. At the 1M size, each Spark run is followed by
the same file scored in one Python process with the same batch scoring and assessor, no
Spark (A B A B), so Spark's overhead on one machine is visible. Medians per size, and the
load average before every run, go to bench/results/population.json; the bars are in
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
logger = logging.getLogger("bench")

BARS = {"seconds_1m": 60.0, "peak_gb": 3.0, "per_row_5m_over_1m": 1.3}


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall time and peak resident memory (the process and all its children, summed), with
    the JVM's and the Python processes' shares at that peak."""
    peak, at_peak = 0, {}
    # CPU time of every descendant once reaped (spark-submit execs the JVM, which reaps its
    # Python workers): what the run cost, whatever else shares the machine.
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, at_peak
        parent = psutil.Process(process.pid)
        while not done.is_set():
            try:
                members = [parent, *parent.children(recursive=True)]
            except psutil.Error:
                members = []
            shares: dict[str, int] = {}
            jvms: list[list[str]] = []
            for member in members:
                try:  # a helper process may end between listing and reading: skip just it
                    command_line = member.cmdline()
                    if command_line and command_line in jvms:
                        # The JVM starting a helper (Hadoop's local file system runs shell
                        # commands while writing): between spawn and exec the child shares
                        # the JVM's memory and reports its RSS. Counted once, in the JVM.
                        continue
                    kind = "jvm" if member.name() == "java" else "python"
                    rss = member.memory_info().rss
                except psutil.Error:
                    continue
                if kind == "jvm":
                    jvms.append(command_line)
                shares[kind] = shares.get(kind, 0) + rss
                shares[f"{kind}_processes"] = shares.get(f"{kind}_processes", 0) + 1
            total = shares.get("jvm", 0) + shares.get("python", 0)
            if total > peak:
                peak, at_peak = total, shares
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{stderr[-3000:]}")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    measured = {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_gb": round(peak / 1e9, 2),
    }
    for kind, value in sorted(at_peak.items()):
        if kind.endswith("_processes"):
            measured[f"at_peak_{kind}"] = value
        else:
            measured[f"peak_{kind}_gb"] = round(value / 1e9, 2)
    return measured


def spark_run(
    source: Path, output: Path, master: str, model: str, driver_memory: str
) -> dict[str, float]:
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO_ROOT),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [
        str(BIN / "spark-submit"),
        *("--master", master, "--driver-memory", driver_memory),
        *("--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4"),
        str(REPO_ROOT / "jobs" / "score_population.py"),
        *("--input", str(source), "--output", str(output), "--model", model),
        *("--group-by", "practice_id"),
    ]
    return run_measured(command, env)


def single_process(source: str, model: str) -> None:
    """Score ``source`` with the job's own batch scoring in this process, no Spark: Arrow
    batches of 10,000 rows read with pyarrow, the same ``score_arrow`` and assessor."""
    import pyarrow.parquet as pq

    from stroke_risk.core.config import get_settings
    from stroke_risk.population.model_source import build_assessor, load_stored_lean
    from stroke_risk.population.scoring import score_arrow

    assessor = build_assessor(load_stored_lean(model), get_settings())
    for batch in pq.ParquetFile(source).iter_batches(batch_size=10_000):
        score_arrow(batch, assessor, keep=["practice_id"])


def _median(runs: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 2)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument("--model", default="stroke_risk_model:latest")
    parser.add_argument("--rounds", type=int, default=3, help="runs per size up to 1M")
    parser.add_argument("--big-rounds", type=int, default=2, help="runs per size above 1M")
    parser.add_argument("--single-process-rows", type=int, default=1_000_000)
    parser.add_argument("--results", default=str(REPO_ROOT / "bench/results/population.json"))
    parser.add_argument("--_score-only", dest="score_only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score_only:
        single_process(args.score_only, args.model)
        return
    cores = int(args.master.removeprefix("local[").removesuffix("]") or 1)
    results: dict[str, object] = {
        "master": args.master,
        "cores": cores,
        "driver_memory": args.driver_memory,
        "cpu_count": os.cpu_count(),
        "bars": BARS,
        "sizes": [],
    }
    sizes: list[dict[str, object]] = results["sizes"]  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="bench-population-") as folder:
        for rows in args.rows:
            source = Path(folder) / f"patients-{rows}.parquet"
            subprocess.run(
                [
                    sys.executable,
                    str(REPO_ROOT / "bench/synthetic_patients.py"),
                    *("--rows", str(rows), "--output", str(source), "--model", args.model),
                ],
                check=True,
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            )
            rounds = args.rounds if rows <= 1_000_000 else args.big_rounds
            with_baseline = rows == args.single_process_rows
            spark_runs: list[dict[str, float]] = []
            alone_runs: list[dict[str, float]] = []
            for round_number in range(rounds):  # A B A B: Spark, then one process
                load = os.getloadavg()[0]
                output = Path(folder) / f"out-{rows}-{round_number}"
                run = spark_run(source, output, args.master, args.model, args.driver_memory)
                run["load_average_before"] = round(load, 2)
                logger.info("spark %s, %d rows: %s", args.master, rows, run)
                spark_runs.append(run)
                shutil.rmtree(output, ignore_errors=True)
                if with_baseline:
                    load = os.getloadavg()[0]
                    alone = run_measured(
                        [sys.executable, __file__, "--_score-only", str(source)]
                        + ["--model", args.model],
                        {**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                    )
                    alone["load_average_before"] = round(load, 2)
                    logger.info("one process, no Spark, %d rows: %s", rows, alone)
                    alone_runs.append(alone)
            seconds = _median(spark_runs, "seconds")
            size: dict[str, object] = {
                "rows": rows,
                "spark_seconds_median": seconds,
                "spark_peak_gb_max": max(run["peak_gb"] for run in spark_runs),
                "rows_per_second_per_core": round(rows / seconds / cores),
                "microseconds_per_row": round(1e6 * seconds / rows, 2),
                "spark_cpu_seconds_median": _median(spark_runs, "cpu_seconds"),
                "cpu_microseconds_per_row": round(
                    1e6 * _median(spark_runs, "cpu_seconds") / rows, 2
                ),
                "spark_runs": spark_runs,
            }
            if alone_runs:
                alone_seconds = _median(alone_runs, "seconds")
                size |= {
                    "one_process_seconds_median": alone_seconds,
                    "one_process_peak_gb_max": max(run["peak_gb"] for run in alone_runs),
                    "one_process_rows_per_second": round(rows / alone_seconds),
                    "one_process_cpu_seconds_median": _median(alone_runs, "cpu_seconds"),
                    "one_process_runs": alone_runs,
                }
            sizes.append(size)
            source.unlink()
            _write(results, args.results)  # after each size: a long run keeps what it measured
    per_row = {size["rows"]: size["microseconds_per_row"] for size in sizes}
    cpu_per_row = {size["rows"]: size["cpu_microseconds_per_row"] for size in sizes}
    if 1_000_000 in per_row and 5_000_000 in per_row:
        results["per_row_5m_over_1m"] = round(per_row[5_000_000] / per_row[1_000_000], 3)
        results["cpu_per_row_5m_over_1m"] = round(
            cpu_per_row[5_000_000] / cpu_per_row[1_000_000], 3
        )
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    _write(results, args.results)
    logger.info("written to %s", args.results)


def _write(results: dict[str, object], path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
