"""FHIR Bulk Data input: the NDJSON files of a ``$export``, one patient at a time.

A Bulk Data export writes one NDJSON file per resource type (``Patient.ndjson``,
``Observation.ndjson``, ``Condition.ndjson``, sometimes split as ``Patient.000.ndjson``...),
one resource per line. Spark reads every line, keys it by the patient it is about
(``Patient.id``, or the ``subject`` reference of an Observation or Condition, written
``Patient/ID`` or, as Synthea writes it, ``urn:uuid:ID``) and collects each patient's
lines. Each patient is then mapped and scored by exactly what ``POST
/fhir/risk-assessment`` runs: :func:`stroke_risk.fhir.mapping.parse_resource` per
resource, :func:`~stroke_risk.fhir.mapping.map_resources`, then
:func:`stroke_risk.fhir.estimate.estimate` with the service's assessor. A patient that
cannot be scored (not enough data, a stroke on record, under 18, an invalid resource) is
a rejected row with the mapping's own words.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.assessment.results import AssessmentResult
from stroke_risk.core.patient_tables import ID_COLUMN, DataError
from stroke_risk.fhir.estimate import estimate
from stroke_risk.fhir.mapping import USED_RESOURCE_TYPES, FhirInputError, map_resources
from stroke_risk.fhir.mapping import parse_resource as parse_fhir_resource
from stroke_risk.population.scoring import SCORE_COLUMNS, worklist_columns

RESOURCES = "resources"  # the column holding each patient's NDJSON lines
# Grouping columns a FHIR input offers, and where in the Patient resource each comes from.
GROUP_COLUMNS = {
    "managing_organization": "$.managingOrganization.reference",
    "general_practitioner": "$.generalPractitioner[0].reference",
}
# Beyond the worklist's columns: the values assumed for fields the record lacks (work
# type, residence, marital status) and the range of the probability over all of them.
FHIR_COLUMNS: dict[str, str] = {
    "assumed": "string",
    "probability_range_low": "double",
    "probability_range_high": "double",
}
_GROUP_REFERENCE_PREFIX = r"^(?:.*/)?(?:Organization|Practitioner|PractitionerRole)/|^urn:uuid:"
_REFERENCE_PREFIX = r"^(?:.*/)?Patient/|^urn:uuid:"  # Patient/ID, URL/Patient/ID, urn:uuid:ID


def read_fhir_ndjson(spark: SparkSession, path: str, group_by: list[str]) -> DataFrame:
    """One row per patient: ``id``, the grouping columns, and the patient's NDJSON lines."""
    unknown = [name for name in group_by if name not in GROUP_COLUMNS]
    if unknown:
        raise DataError(
            f"--group-by {', '.join(unknown)} is not available for FHIR input: use "
            + " or ".join(GROUP_COLUMNS)
        )
    lines = spark.read.option("pathGlobFilter", "*.ndjson").text(path)
    kind = F.get_json_object("value", "$.resourceType")
    subject = F.regexp_replace(
        F.get_json_object("value", "$.subject.reference"), _REFERENCE_PREFIX, ""
    )
    keyed = (
        lines.where(F.trim("value") != "")
        .withColumn("kind", kind)
        .where(F.col("kind").isin(*USED_RESOURCE_TYPES))
        .withColumn(
            ID_COLUMN,
            F.when(F.col("kind") == "Patient", F.get_json_object("value", "$.id")).otherwise(
                subject
            ),
        )
        .where(F.col(ID_COLUMN).isNotNull())
    )
    # The referenced resource's id ("Organization/abc" -> "abc"): a "/" in a partition
    # folder's name would be escaped.
    groups = [
        F.first(
            F.when(
                F.col("kind") == "Patient",
                F.regexp_replace(
                    F.get_json_object("value", GROUP_COLUMNS[name]), _GROUP_REFERENCE_PREFIX, ""
                ),
            ),
            ignorenulls=True,
        ).alias(name)
        for name in group_by
    ]
    return keyed.groupBy(ID_COLUMN).agg(*groups, F.collect_list("value").alias(RESOURCES))


def output_fields() -> list[StructField]:
    """The scored columns of a FHIR input, ``rejection`` last."""
    kinds = {"string": StringType(), "double": DoubleType(), "boolean": BooleanType()}
    columns = {**{k: v for k, v in SCORE_COLUMNS.items() if k != "rejection"}, **FHIR_COLUMNS}
    return [StructField(n, kinds[k]) for n, k in columns.items()] + [
        StructField("rejection", StringType())
    ]


def score_fhir_patient(lines: list[str], assessor: RiskAssessor, today: dt.date) -> dict[str, Any]:
    """One patient's NDJSON lines -> the worklist's values, or the reason it is not scored."""
    empty: dict[str, Any] = {field.name: None for field in output_fields()}
    try:
        resources = []
        for line in lines:
            try:
                raw = json.loads(line)
            except ValueError:  # the parser's words may quote the line: patient data
                raise FhirInputError("a line is not JSON", "NDJSON") from None
            except RecursionError:  # nested thousands deep; no FHIR resource is
                raise FhirInputError("a line's JSON is nested too deeply", "NDJSON") from None
            resource = parse_fhir_resource(raw)
            if resource is not None:
                resources.append(resource)
        mapped = map_resources(resources, today)
    except FhirInputError as error:
        return {**empty, "rejection": f"{error.location}: {error.message}"}
    result = estimate(mapped, assessor)
    if result.outcome != "scored" or result.result is None:
        return {**empty, "rejection": result.reason}
    assessment = msgspec.convert(result.result, AssessmentResult)
    row = {name: values[0] for name, values in worklist_columns([assessment]).items()}
    assumed = "; ".join(f"{name}={value}" for name, value in result.assumed.items())
    return {
        **empty,
        **row,
        "assumed": assumed or None,
        "probability_range_low": result.low,
        "probability_range_high": result.high,
    }


def score_fhir_batch(
    batch: pa.RecordBatch, assessor: RiskAssessor, today: dt.date, schema: pa.Schema
) -> pa.RecordBatch:
    """Each patient of a batch of :func:`read_fhir_ndjson` rows, scored or rejected."""
    rows = [
        score_fhir_patient(lines or [], assessor, today)
        for lines in batch.column(RESOURCES).to_pylist()
    ]
    arrays = []
    for field in schema:
        if field.name in batch.schema.names:  # id and the grouping columns
            arrays.append(batch.column(field.name).cast(field.type))
        else:
            arrays.append(pa.array([row[field.name] for row in rows], type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
