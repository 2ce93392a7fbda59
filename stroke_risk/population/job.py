"""The Spark job: read patients, score them on the executors, write the worklist.

The model is read once on the driver and broadcast; each executor's Python worker builds
the service's :class:`~stroke_risk.assessment.assessor.RiskAssessor` from it once and scores
whole Arrow batches with it (``mapInArrow``): no row-by-row Python UDF, no HTTP. Output:

- ``scored/``: Parquet, partitioned by the grouping column when given, one row per patient
  with ``rank`` within the group (1 = highest risk);
- ``rejected/``: Parquet, the id and the validation message of each row not scored;
- ``summary.json`` and ``summary.csv``: patients per band, mean risk, rejected rows, per group;
  ``summary.json`` also says what the worklist ranks by (``ranked_by``, ``outcome``), from the
  model's own outcome record: for the shipped model a stroke history, not a future risk.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyarrow.fs import FileSystem
from pyspark import SparkFiles, StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField, StructType

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.core.config import Settings, get_settings
from stroke_risk.core.outcome import KAGGLE_HISTORY, OutcomeSummary
from stroke_risk.core.patient_tables import ID_COLUMN, DataError
from stroke_risk.core.responses import INTERVAL_NAME
from stroke_risk.core.schema import FEATURES
from stroke_risk.core.spreadsheet_cells import neutralised
from stroke_risk.population.csv_safety import CSV_OPTIONS, reject_unfileable
from stroke_risk.population.model_source import (
    build_assessor,
    is_model_file,
    load_stored_lean,
)
from stroke_risk.population.scoring import SCORE_COLUMNS, score_arrow
from stroke_risk.scoring.store import StoredLean

log = logging.getLogger("stroke_risk.population")

BANDS = ("low", "moderate", "high")
ALL_PATIENTS = "all"  # the one group when no grouping column is given

# One assessor per Python worker process and broadcast model, reused across partitions.
_assessors: dict[str, RiskAssessor] = {}


@dataclass(frozen=True)
class JobOptions:
    input: str
    output: str
    model: str = "stroke_risk_model:latest"
    group_by: list[str] = field(default_factory=list)
    # "csv", "parquet" or "fhir-ndjson"; csv or parquet is guessed from the path otherwise
    input_format: str | None = None
    as_of: str | None = None  # FHIR input: the date ages and "last 12 months" count from


FHIR_NDJSON = "fhir-ndjson"
INPUT_FORMATS = ("csv", "parquet", FHIR_NDJSON)


def read_patients(spark: SparkSession, path: str, input_format: str | None = None) -> DataFrame:
    """Parquet or CSV with the data set's columns (any capitalisation) and ``id``."""
    kind = input_format or ("csv" if path.lower().rstrip("/").endswith(".csv") else "parquet")
    if kind == "csv":
        # All text, as the service's CSV reader sees it; validation parses the numbers.
        frame = spark.read.options(**CSV_OPTIONS).csv(path)
    elif kind == "parquet":
        frame = spark.read.parquet(path)
    else:
        raise DataError(f"unknown input format '{kind}': use csv or parquet (or {FHIR_NDJSON})")
    return frame.toDF(*[column.strip().lower() for column in frame.columns])


def _check_columns(frame: DataFrame, group_by: list[str]) -> None:
    required = [ID_COLUMN, *FEATURES, *group_by]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataError(
            "missing column(s): "
            + ", ".join(missing)
            + ". Expected an 'id', the data set's columns ("
            + ", ".join(FEATURES)
            + ") and any --group-by column"
        )


def _output_schema(frame: DataFrame, group_by: list[str]) -> StructType:
    kinds = {"string": StringType(), "double": DoubleType(), "boolean": BooleanType()}
    fields = [StructField(ID_COLUMN, StringType())]
    fields += [frame.schema[name] for name in group_by]
    fields += [StructField(n, kinds[k]) for n, k in SCORE_COLUMNS.items()]
    return StructType(fields)


def _broadcast_assessor(
    spark: SparkSession, stored: StoredLean, settings: Settings
) -> Callable[[], RiskAssessor]:
    """The model sent to the executors once; each Python worker builds its assessor once."""
    model = spark.sparkContext.broadcast((stored, settings))
    key = uuid.uuid4().hex  # names this broadcast in the workers' cache

    def assessor() -> RiskAssessor:
        if key not in _assessors:
            _assessors[key] = build_assessor(*model.value)
        return _assessors[key]

    return assessor


def _spread(frame: DataFrame) -> DataFrame:
    """One Parquet file of a million patients is a single input split: spread it, or one
    core scores while the others wait. Scoring costs far more than the shuffle."""
    cores = frame.sparkSession.sparkContext.defaultParallelism
    if frame.rdd.getNumPartitions() < cores:
        return frame.repartition(cores)
    return frame


def score(
    frame: DataFrame, stored: StoredLean, settings: Settings, group_by: list[str]
) -> DataFrame:
    """Every input row with its scores or its rejection, computed on the executors."""
    _check_columns(frame, group_by)
    assessor = _broadcast_assessor(frame.sparkSession, stored, settings)
    schema = _output_schema(frame, group_by)
    # Declared, not inferred: a batch whose rows were all rejected has only nulls.
    arrow_schema = to_arrow_schema(schema)

    def score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = assessor()
        for batch in batches:
            yield score_arrow(batch, scorer, keep=group_by, schema=arrow_schema)

    selected = _spread(frame.select(ID_COLUMN, *group_by, *FEATURES))
    return selected.mapInArrow(score_batches, schema)


def score_fhir(
    patients: DataFrame,
    stored: StoredLean,
    settings: Settings,
    group_by: list[str],
    today: dt.date,
) -> DataFrame:
    """Each patient of a FHIR Bulk Data export mapped and scored as the FHIR route does."""
    # Imported here: fhir.resources' models are needed by FHIR jobs only (executors too).
    from stroke_risk.population.fhir_input import output_fields as fhir_output_fields
    from stroke_risk.population.fhir_input import score_fhir_batch

    assessor = _broadcast_assessor(patients.sparkSession, stored, settings)
    fields = [StructField(ID_COLUMN, StringType())]
    fields += [StructField(name, StringType()) for name in group_by]
    schema = StructType(fields + fhir_output_fields())
    arrow_schema = to_arrow_schema(schema)

    def score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = assessor()
        for batch in batches:
            yield score_fhir_batch(batch, scorer, today, arrow_schema)

    return _spread(patients).mapInArrow(score_batches, schema)


def rank_within_groups(scored: DataFrame, group_by: list[str]) -> DataFrame:
    """``rank`` 1 for the highest probability in each group (what it is: the summary's
    ``ranked_by``); ties broken by id, so reruns agree."""
    order = [F.col("probability").desc(), F.col(ID_COLUMN).asc()]
    if group_by:
        window = Window.partitionBy(*group_by).orderBy(*order)
    else:  # one population: Spark sorts it in a single partition (it warns so)
        window = Window.orderBy(*order)
    return scored.withColumn("rank", F.row_number().over(window))


def summarise(scored: DataFrame, rejected: DataFrame, group_by: list[str]) -> list[dict]:
    """Per group: patients, mean probability, patients per band, rows rejected."""
    keys = group_by or []
    aggregates = [
        F.count(F.lit(1)).alias("patients"),
        F.avg("probability").alias("mean_probability"),
        *[F.sum((F.col("risk_band") == band).cast("long")).alias(band) for band in BANDS],
    ]
    stats = (scored.groupBy(*keys) if keys else scored.groupBy()).agg(*aggregates)
    rejects = (rejected.groupBy(*keys) if keys else rejected.groupBy()).agg(
        F.count(F.lit(1)).alias("rejected")
    )
    rows: dict[tuple, dict[str, Any]] = {}
    for row in stats.collect():
        group = tuple(row[k] for k in keys)
        rows[group] = {
            **dict(zip(keys, group, strict=True)),  # each grouping column's own value
            "group": _group_name(group, keys),
            "patients": row["patients"],
            "mean_probability": row["mean_probability"],
            **{band: row[band] or 0 for band in BANDS},
            "rejected": 0,
        }
    for row in rejects.collect():
        group = tuple(row[k] for k in keys)
        if row["rejected"] == 0:
            continue
        entry = rows.setdefault(
            group,
            {
                **dict(zip(keys, group, strict=True)),
                "group": _group_name(group, keys),
                "patients": 0,
                "mean_probability": None,
                **dict.fromkeys(BANDS, 0),
                "rejected": 0,
            },
        )
        entry["rejected"] = row["rejected"]
    return sorted(rows.values(), key=lambda r: str(r["group"]))


def _group_name(group: tuple, keys: list[str]) -> str:
    if not keys:
        return ALL_PATIENTS
    return "/".join(f"{k}={'' if v is None else v}" for k, v in zip(keys, group, strict=True))


def write_summary(
    summary: list[dict],
    output: str,
    group_by: list[str],
    model_tag: str,
    outcome: OutcomeSummary = KAGGLE_HISTORY,
    interval_name: str = INTERVAL_NAME,
) -> None:
    """``summary.json`` (totals and groups) and ``summary.csv`` (one line per group), beside
    the Parquet output: a local folder or object storage (``s3://``), through pyarrow's
    file systems, written by the driver (the summary is a few lines per group).
    ``outcome`` (the model's record) says what the worklist ranks by."""
    totals = {
        "model_tag": model_tag,
        "ranked_by": outcome.ranking,
        "outcome": outcome.model_dump(),
        # probability_low/high and interval_crosses_band_edge: this interval, by its name.
        "interval_name": interval_name,
        "group_by": group_by,
        "patients_scored": sum(r["patients"] for r in summary),
        "rows_rejected": sum(r["rejected"] for r in summary),
        "patients_per_band": {band: sum(r[band] for r in summary) for band in BANDS},
        "groups": summary,
    }
    table = io.StringIO()
    # One column per grouping column holding its value (PR-A, not practice_id=PR-A), so the
    # file sorts, filters and joins like the input; without grouping, one 'group' column.
    keys = group_by or ["group"]
    writer = csv.DictWriter(
        table,
        fieldnames=[*keys, "patients", "mean_probability", *BANDS, "rejected"],
        extrasaction="ignore",
    )
    writer.writeheader()
    # Group values come from the input: a spreadsheet must show them, not run them.
    writer.writerows({k: neutralised(v) for k, v in row.items()} for row in summary)
    if "://" in output:
        uri = output.replace("s3a://", "s3://", 1)  # Hadoop's scheme, pyarrow's name
    else:
        uri = str(Path(output).resolve())
    filesystem, folder = FileSystem.from_uri(uri)
    filesystem.create_dir(folder, recursive=True)
    for name, text in (
        ("summary.json", json.dumps(totals, indent=2) + "\n"),
        ("summary.csv", table.getvalue()),
    ):
        with filesystem.open_output_stream(f"{folder}/{name}") as stream:
            stream.write(text.encode())


def _stage(spark: SparkSession, description: str) -> None:
    """A line in the log and the same description on the Spark UI's jobs."""
    log.info(description)
    spark.sparkContext.setJobDescription(description)


def _local_model_path(model: str) -> str:
    """A model file sent with ``--files`` (EMR, YARN, Kubernetes) is found by its name."""
    if is_model_file(model) and not Path(model).is_file():
        shipped = SparkFiles.get(Path(model).name)
        if Path(shipped).is_file():
            return shipped
    return model


def run(spark: SparkSession, options: JobOptions, settings: Settings | None = None) -> dict:
    """Score ``options.input`` into ``options.output``; returns the summary's totals."""
    settings = settings or get_settings()
    group_by = options.group_by
    _stage(spark, f"loading model {options.model}")
    stored = load_stored_lean(_local_model_path(options.model))
    _stage(spark, f"reading patients from {options.input}")
    if options.input_format == FHIR_NDJSON:
        from stroke_risk.population.fhir_input import read_fhir_ndjson

        today = dt.date.fromisoformat(options.as_of) if options.as_of else dt.date.today()
        patients = read_fhir_ndjson(spark, options.input, group_by)
        results = score_fhir(patients, stored, settings, group_by, today)
    else:
        frame = read_patients(spark, options.input, options.input_format)
        results = score(frame, stored, settings, group_by)
    results = reject_unfileable(results, ID_COLUMN, group_by)
    results = results.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        scored = results.where(F.col("rejection").isNull()).drop("rejection")
        rejected = results.where(F.col("rejection").isNotNull()).select(
            ID_COLUMN, *group_by, "rejection"
        )
        _stage(spark, "scoring patients and writing the ranked worklist")
        writer = rank_within_groups(scored, group_by).write.mode("overwrite")
        if group_by:
            writer = writer.partitionBy(*group_by)
        writer.parquet(f"{options.output}/scored")
        _stage(spark, "writing rejected rows")
        rejected.write.mode("overwrite").parquet(f"{options.output}/rejected")
        _stage(spark, "summarising")
        summary = summarise(scored, rejected, group_by)
    finally:
        results.unpersist()
    write_summary(summary, options.output, group_by, stored.tag, stored.outcome)
    scored_count = sum(r["patients"] for r in summary)
    rejected_count = sum(r["rejected"] for r in summary)
    log.info("done: %d patients scored, %d rows rejected", scored_count, rejected_count)
    log.info("%s", stored.outcome.ranking)
    return {
        "patients_scored": scored_count,
        "rows_rejected": rejected_count,
        "groups": summary,
        "ranked_by": stored.outcome.ranking,
    }
