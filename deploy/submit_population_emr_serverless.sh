#!/usr/bin/env bash
# Score a population on Amazon EMR Serverless (docs/data-teams/spark-clusters.md).
#
#   APPLICATION_ID=... EXECUTION_ROLE_ARN=... S3_PREFIX=s3://bucket/stroke-risk \
#   INPUT=s3://bucket/patients/ OUTPUT=s3://bucket/scores/2026-11-30/ \
#   deploy/submit_population_emr_serverless.sh [--dry-run]
#
# Uploads the job, the packed Python environment (VENV_ARCHIVE, made with venv-pack on
# Amazon Linux as docs/data-teams/spark-clusters.md shows; this script does not build it) and the model exported
# from the store as a file, then starts the job run. Settings (environment):
#   APPLICATION_ID, EXECUTION_ROLE_ARN, S3_PREFIX, INPUT, OUTPUT   required
#   MODEL_TAG (stroke_risk_model:latest), GROUP_BY (practice_id), AWS_REGION (eu-west-2),
#   VENV_ARCHIVE (pyspark_venv.tar.gz), SHUFFLE_PARTITIONS (200), AWS_CLI (aws)
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$DEPLOY_DIR")"
MODEL_TAG="${MODEL_TAG:-stroke_risk_model:latest}"
GROUP_BY="${GROUP_BY:-practice_id}"
AWS_REGION="${AWS_REGION:-eu-west-2}"
VENV_ARCHIVE="${VENV_ARCHIVE:-pyspark_venv.tar.gz}"
SHUFFLE_PARTITIONS="${SHUFFLE_PARTITIONS:-200}"
AWS_CLI="${AWS_CLI:-aws}"
BENTOML="${BENTOML:-$REPO_ROOT/.venv/bin/bentoml}"
MODEL_FILE=stroke_risk_model.bentomodel
DRY_RUN=0

# shellcheck source=SCRIPTDIR/lib.sh
source "$DEPLOY_DIR/lib.sh"

case "${1:-}" in
    --dry-run) DRY_RUN=1 ;;
    "") ;;
    -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown option $1 (see --help)" ;;
esac

# Show a command; run it unless --dry-run.
step() {
    printf '+ %s\n' "$(quoted "$@")"
    ((DRY_RUN)) || "$@"
}

for name in APPLICATION_ID EXECUTION_ROLE_ARN S3_PREFIX INPUT OUTPUT; do
    [[ -n "${!name:-}" ]] || die "$name is not set (see --help)"
done
[[ "$S3_PREFIX" == s3://* ]] || die "S3_PREFIX must start with s3://, not '$S3_PREFIX'"
((DRY_RUN)) || [[ -f "$VENV_ARCHIVE" ]] ||
    die "no packed environment at $VENV_ARCHIVE: build it with venv-pack (docs/data-teams/spark-clusters.md)"
S3_PREFIX="${S3_PREFIX%/}"
AWS=("$AWS_CLI" --region "$AWS_REGION")

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
step "$BENTOML" models export "$MODEL_TAG" "$workdir/$MODEL_FILE"
step "${AWS[@]}" s3 cp "$workdir/$MODEL_FILE" "$S3_PREFIX/$MODEL_FILE"
step "${AWS[@]}" s3 cp "$VENV_ARCHIVE" "$S3_PREFIX/pyspark_venv.tar.gz"
step "${AWS[@]}" s3 cp "$REPO_ROOT/jobs/score_population.py" "$S3_PREFIX/score_population.py"

python_path=./environment/bin/python
parameters="--conf spark.archives=$S3_PREFIX/pyspark_venv.tar.gz#environment"
parameters+=" --conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=$python_path"
parameters+=" --conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON=$python_path"
parameters+=" --conf spark.executorEnv.PYSPARK_PYTHON=$python_path"
parameters+=" --conf spark.files=$S3_PREFIX/$MODEL_FILE"
parameters+=" --conf spark.sql.shuffle.partitions=$SHUFFLE_PARTITIONS"
arguments=(--input "$INPUT" --output "$OUTPUT" --model "$MODEL_FILE")
[[ -z "$GROUP_BY" ]] || arguments+=(--group-by "$GROUP_BY")
arguments_json="$(printf '%s\n' "${arguments[@]}" | jq -R . | jq -cs .)"
job_driver="$(jq -cn --arg entry "$S3_PREFIX/score_population.py" --arg params "$parameters" \
    --argjson arguments "$arguments_json" \
    '{sparkSubmit: {entryPoint: $entry, entryPointArguments: $arguments,
      sparkSubmitParameters: $params}}')"
step "${AWS[@]}" emr-serverless start-job-run --application-id "$APPLICATION_ID" \
    --execution-role-arn "$EXECUTION_ROLE_ARN" --name stroke-risk-population \
    --job-driver "$job_driver"
