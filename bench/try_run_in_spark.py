"""Try BentoML's own Spark path, ``bentoml.batch.run_in_spark``, on this service.

    python bench/try_run_in_spark.py [--model stroke_risk_model:latest]

Builds the service into a Bento in a private BentoML home (the model is exported from
the default store and imported there), then asks ``run_in_spark`` to run
``predict_batch`` over a few synthetic patients with ``local[2]``: once letting it infer
the output schema, once with the schema given. Whatever happens (rows, or the exact
error) is written to bench/results/population-run-in-spark.json and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _attempt(name: str, call) -> dict[str, str]:
    try:
        rows = call()
    except Exception as error:  # the point is to record what fails, and where
        frames = traceback.extract_tb(error.__traceback__)
        where = next(
            (
                f"{f.filename.split('site-packages/')[-1]}:{f.lineno}"
                for f in reversed(frames)
                if "bentoml" in f.filename
            ),
            "",
        )
        text = str(error).strip().splitlines()
        # Spark wraps a worker's Python error: keep its last line (the error itself).
        python_error = [
            line.strip()
            for line in text
            if re.match(r"^\s*[\w.]+(Error|Exception): ", line) and "Py4J" not in line
        ]
        return {
            "attempt": name,
            "result": "failed",
            "error": type(error).__name__,
            "message": (python_error[-1] if python_error else text[-1] if text else "")[:500],
            "raised_at": where,
        }
    return {"attempt": name, "result": f"{len(rows)} rows", "first_row": str(rows[:1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="stroke_risk_model:latest")
    parser.add_argument(
        "--results", default=str(REPO_ROOT / "bench/results/population-run-in-spark.json")
    )
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="run-in-spark-home-")
    model_file = Path(home) / "model.bentomodel"
    # Exported from the developer's store by its own CLI, imported into the private home.
    subprocess.run(
        [str(BIN / "bentoml"), "models", "export", args.model, str(model_file)], check=True
    )
    os.environ["BENTOML_HOME"] = home
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = str(REPO_ROOT)
    import bentoml
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    from stroke_risk.core.schema import FEATURES, Patient

    bentoml.models.import_model(str(model_file))
    bento = bentoml.bentos.build_bentofile(
        str(REPO_ROOT / "bentofile.yaml"), build_ctx=str(REPO_ROOT)
    )
    row = Patient.model_config["json_schema_extra"]["example"]
    schema = StructType(
        [StructField("probability", DoubleType()), StructField("risk_band", StringType())]
    )

    def run(output_schema: StructType | None) -> list:
        # A fresh Spark each time: run_in_spark adds the exported Bento with addFile, and
        # Spark refuses a second file of the same name with other bytes.
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        try:
            frame = spark.createDataFrame(
                [tuple(row[name] for name in FEATURES)] * 4, list(FEATURES)
            )
            return bentoml.batch.run_in_spark(
                bento, frame, spark, api_name="predict_batch", output_schema=output_schema
            ).collect()
        finally:
            spark.stop()

    attempts = [
        _attempt("output schema inferred from the API", lambda: run(None)),
        _attempt("output schema given", lambda: run(schema)),
    ]
    import pyspark

    results = {
        "bentoml": bentoml.__version__,
        "pyspark": pyspark.__version__,
        "bento": str(bento.tag),
        "attempts": attempts,
    }
    Path(args.results).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
