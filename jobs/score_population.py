"""Score a population of patients on Spark: `spark-submit jobs/score_population.py --help`.

Thin entry point: arguments in, :func:`stroke_risk.population.job.run` does the work.
Exit status 0 also when some rows were rejected (they are in OUTPUT/rejected/); 1 on any
other failure, with a one-line reason (`error: ...`; a traceback only for faults that are
not in the input). Spark's own log is at WARN unless told otherwise (`--conf
spark.log.level=INFO`, or `make score-population SPARK_LOG_LEVEL=INFO`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from stroke_risk.population.job import INPUT_FORMATS, JobOptions, run


def parse_arguments(argv: list[str] | None = None) -> JobOptions:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input",
        required=True,
        help="Parquet or CSV of patients, with 'id'; or a folder of FHIR Bulk Data NDJSON",
    )
    parser.add_argument("--output", required=True, help="Folder for scored/, rejected/, summary")
    parser.add_argument(
        "--model",
        default="stroke_risk_model:latest",
        help="Model store tag, or a file from `bentoml models export` (*.bentomodel)",
    )
    parser.add_argument(
        "--group-by", default="", help="Grouping column(s), comma-separated, e.g. practice_id"
    )
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default=None,
        help="csv or parquet (guessed from the path when not given), or fhir-ndjson: the "
        "Patient, Observation and Condition files of a FHIR $export",
    )
    parser.add_argument(
        "--as-of",
        default=None,
        help="FHIR input: the date (YYYY-MM-DD) ages and recent values count from; today",
    )
    args = parser.parse_args(argv)
    group_by = [name.strip().lower() for name in args.group_by.split(",") if name.strip()]
    return JobOptions(args.input, args.output, args.model, group_by, args.input_format, args.as_of)


def _log_progress() -> None:
    """The job's own lines on stderr, whatever Spark or BentoML did to the root logger."""
    log = logging.getLogger("stroke_risk.population")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _input_errors() -> tuple[type[BaseException], ...]:
    """Errors in what the operator gave (a path, a column, a format): one line, no trace."""
    from pyspark.errors import AnalysisException

    from stroke_risk.core.patient_tables import DataError

    return (DataError, FileNotFoundError, AnalysisException)


def error_line(exc: BaseException) -> str:
    """The one line an operator reads: Spark's own messages carry a multi-line context."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"error: {text}"


def main(argv: list[str] | None = None) -> int:
    _log_progress()
    options = parse_arguments(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("stroke-risk population scoring").getOrCreate()
    if not spark.sparkContext.getConf().contains("spark.log.level"):
        # Spark's INFO lines (hundreds per run) would bury the job's own progress lines.
        spark.sparkContext.setLogLevel("WARN")
    try:
        run(spark, options)
    except _input_errors() as exc:
        print(error_line(exc), file=sys.stderr)  # noqa: T201
        return 1
    except Exception as exc:  # a fault, not the input: the trace is worth having
        logging.getLogger("stroke_risk.population").exception("failed")
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
