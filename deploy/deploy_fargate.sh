#!/usr/bin/env bash
# Deploy (or update) the stroke-risk image on Amazon ECS Fargate behind an Application
# Load Balancer, with target-tracking auto scaling on CPU. Safe to run again: every step
# looks before it creates, and a second run rolls the service to a new task definition.
#
#   IMAGE_URI=... SUBNETS=... SECURITY_GROUPS=... TARGET_GROUP_ARN=... \
#   EXECUTION_ROLE_ARN=... API_KEYS_SECRET_ARN=... deploy/deploy_fargate.sh [--dry-run]
#
# Steps: preflight -> CloudWatch log group -> register the task definition (from
# deploy/task-definition.json) -> cluster -> target group health check on /readyz ->
# create or update the service -> auto scaling -> wait until the service is stable.
#
# Required settings (environment):
#   IMAGE_URI            the image, e.g. printed by ./create_bento_artifacts.sh
#   SUBNETS              comma-separated subnet ids for the tasks (awsvpc)
#   SECURITY_GROUPS      comma-separated security group ids; must admit the ALB on port 3000
#   TARGET_GROUP_ARN     ALB target group (target type ip, HTTP, port 3000)
#   EXECUTION_ROLE_ARN   task execution role: ECR pull, CloudWatch Logs, and
#                        secretsmanager:GetSecretValue on API_KEYS_SECRET_ARN
#   API_KEYS_SECRET_ARN  Secrets Manager secret holding the API keys, comma-separated
#                        (becomes STROKE_API_KEYS; a JSON key works as ARN:KEY::)
# Optional settings (default in brackets):
#   AWS_REGION [$AWS_DEFAULT_REGION, else eu-west-2]  AWS_PROFILE [unset]  AWS_CLI [aws]
#   AWS_ENDPOINT_URL     other AWS endpoint (e.g. moto), passed as --endpoint-url [unset]
#   ECS_CLUSTER [stroke-risk]  ECS_SERVICE [stroke-risk]  ECS_TASK_FAMILY [stroke-risk]
#   ECS_CONTAINER_NAME [stroke-risk]  TASK_ROLE_ARN [none: the service calls no AWS API]
#   TASK_CPU [512]       (the service runs one worker per whole vCPU of TASK_CPU)
#   TASK_MEMORY          MiB [derived from the workers: the arbiter plus each worker after a
#                        10,000-patient batch, measured in the container (docs/operators/container-image.md;
#                        bench/container/README.md), plus half again, rounded up to what
#                        Fargate allows for TASK_CPU; 1024 for the default 512]
#   LOG_GROUP [/ecs/stroke-risk]  LOG_RETENTION_DAYS [30]  ASSIGN_PUBLIC_IP [DISABLED]
#   MIN_TASKS [1]  MAX_TASKS [4]  CPU_TARGET [60] (% average CPU the scaling aims for)
#   HEALTH_CHECK_GRACE_SECONDS [90]
#   LISTENER_ARN         the ALB listener in front of TARGET_GROUP_ARN [unset: left as it is].
#                        Set, one rule forwards only ROUTED_PATHS to the target group and
#                        the listener's default action answers 404, so the docs, /metrics
#                        and BentoML's other routes are not reachable through the ALB
#                        (give the service a listener of its own)
#   ROUTED_PATHS         what that rule forwards, comma-separated, at most 5 (one ALB rule)
#                        [/predict,/predict_batch,/fhir/risk-assessment,/cds-services,/cds-services/*]
#   LISTENER_RULE_PRIORITY [10]
#   TASK_DEFINITION_TEMPLATE [deploy/task-definition.json]
#
# Needs bash >= 4.4, the AWS CLI and jq.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-2}}"
AWS_CLI="${AWS_CLI:-aws}"
IMAGE_URI="${IMAGE_URI:-}"
SUBNETS="${SUBNETS:-}"
SECURITY_GROUPS="${SECURITY_GROUPS:-}"
TARGET_GROUP_ARN="${TARGET_GROUP_ARN:-}"
EXECUTION_ROLE_ARN="${EXECUTION_ROLE_ARN:-}"
API_KEYS_SECRET_ARN="${API_KEYS_SECRET_ARN:-}"
TASK_ROLE_ARN="${TASK_ROLE_ARN:-}"
ECS_CLUSTER="${ECS_CLUSTER:-stroke-risk}"
ECS_SERVICE="${ECS_SERVICE:-stroke-risk}"
ECS_TASK_FAMILY="${ECS_TASK_FAMILY:-stroke-risk}"
ECS_CONTAINER_NAME="${ECS_CONTAINER_NAME:-stroke-risk}"
TASK_CPU="${TASK_CPU:-512}"
TASK_MEMORY="${TASK_MEMORY:-}"
# Measured in the container (bench/container/README.md, 2026-11-30): RSS of BentoML's
# arbiter (85 MB), and of one worker right after two 10,000-patient batches (123 MB; 100 at
# rest), rounded up.
ARBITER_MEMORY_MB=90
WORKER_MEMORY_MB=125
LOG_GROUP="${LOG_GROUP:-/ecs/stroke-risk}"
LOG_RETENTION_DAYS="${LOG_RETENTION_DAYS:-30}"
ASSIGN_PUBLIC_IP="${ASSIGN_PUBLIC_IP:-DISABLED}"
MIN_TASKS="${MIN_TASKS:-1}"
MAX_TASKS="${MAX_TASKS:-4}"
CPU_TARGET="${CPU_TARGET:-60}"
HEALTH_CHECK_GRACE_SECONDS="${HEALTH_CHECK_GRACE_SECONDS:-90}"
LISTENER_ARN="${LISTENER_ARN:-}"
ROUTED_PATHS="${ROUTED_PATHS:-/predict,/predict_batch,/fhir/risk-assessment,/cds-services,/cds-services/*}"
LISTENER_RULE_PRIORITY="${LISTENER_RULE_PRIORITY:-10}"
TASK_DEFINITION_TEMPLATE="${TASK_DEFINITION_TEMPLATE:-$DEPLOY_DIR/task-definition.json}"
CONTAINER_PORT=3000 # fixed by the image (bentoml serve) and the task definition template
# Roll back by itself when new tasks never turn healthy.
DEPLOYMENT_CONFIGURATION='{"deploymentCircuitBreaker":{"enable":true,"rollback":true},"maximumPercent":200,"minimumHealthyPercent":100}'

DRY_RUN=0
WAIT=1

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

Register the task definition and create or update the ECS Fargate service $ECS_SERVICE
in cluster $ECS_CLUSTER, behind the ALB target group, with CPU target-tracking auto scaling.

Options:
  --dry-run    render the task definition and print every AWS command, run none
  --no-wait    do not wait for the service to become stable
  -h, --help   show this help

Settings come from the environment; see the top of this file.
EOF
}

# shellcheck source=SCRIPTDIR/lib.sh
source "$DEPLOY_DIR/lib.sh"

# Show an AWS call (stdout in a dry run, the log otherwise) and run it unless --dry-run.
aws_call() {
    if ((DRY_RUN)); then
        printf '+ %s\n' "$(quoted "${AWS_CMD[@]}" "$@")"
        return 0
    fi
    printf '+ %s\n' "$(quoted "${AWS_CMD[@]}" "$@")" >&2
    "${AWS_CMD[@]}" "$@"
}

# The same, without the call's output (which a dry run still shows as a command).
aws_quiet() {
    if ((DRY_RUN)); then
        aws_call "$@"
    else
        aws_call "$@" >/dev/null
    fi
}

while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --no-wait) WAIT=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            printf 'error: unknown option %s (see --help)\n' "$1" >&2
            exit 2
            ;;
    esac
    shift
done

AWS_CMD=("$AWS_CLI")
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    AWS_CMD+=(--endpoint-url "$AWS_ENDPOINT_URL")
fi
AWS_CMD+=(--region "$AWS_REGION")

preflight() {
    local name
    for name in IMAGE_URI SUBNETS SECURITY_GROUPS TARGET_GROUP_ARN EXECUTION_ROLE_ARN \
        API_KEYS_SECRET_ARN; do
        [[ -n "${!name}" ]] || die "$name is not set (see --help and the top of $0)"
    done
    for name in TASK_CPU MIN_TASKS MAX_TASKS CPU_TARGET LOG_RETENTION_DAYS \
        HEALTH_CHECK_GRACE_SECONDS LISTENER_RULE_PRIORITY; do
        [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name must be a whole number, not '${!name}'"
    done
    ((MIN_TASKS <= MAX_TASKS)) || die "MIN_TASKS ($MIN_TASKS) is above MAX_TASKS ($MAX_TASKS)"
    if [[ -z "$TASK_MEMORY" ]]; then
        TASK_MEMORY="$(derived_task_memory)" || exit 1
        log "Task memory $TASK_MEMORY MiB for $(service_workers) worker(s) (TASK_MEMORY unset)"
    fi
    [[ "$TASK_MEMORY" =~ ^[0-9]+$ ]] || die "TASK_MEMORY must be a whole number, not '$TASK_MEMORY'"
    [[ -f "$TASK_DEFINITION_TEMPLATE" ]] || die "no task definition template at $TASK_DEFINITION_TEMPLATE"
    command -v jq >/dev/null 2>&1 || die "jq not found: install jq (apt-get install jq)"
    local paths
    paths="$(json_list "$ROUTED_PATHS")"
    (($(jq length <<<"$paths") >= 1 && $(jq length <<<"$paths") <= 5)) \
        || die "ROUTED_PATHS must hold 1 to 5 paths (one ALB rule), not '$ROUTED_PATHS'"
    jq -e 'all(startswith("/"))' <<<"$paths" >/dev/null \
        || die "ROUTED_PATHS must be paths starting with /, not '$ROUTED_PATHS'"
    if ((DRY_RUN)); then
        aws_call sts get-caller-identity
        return 0
    fi
    command -v "$AWS_CLI" >/dev/null 2>&1 \
        || die "$AWS_CLI not found: install the AWS CLI (Debian: apt-get install awscli)"
    "${AWS_CMD[@]}" sts get-caller-identity >/dev/null 2>&1 \
        || die "no usable AWS credentials (aws sts get-caller-identity failed): run 'aws configure' or set AWS_PROFILE"
}

# One service worker per whole vCPU (TASK_CPU is in 1/1024 vCPU), at least one.
service_workers() { echo $((TASK_CPU / 1024 > 1 ? TASK_CPU / 1024 : 1)); }

# The task's memory for its workers: what they use after a large batch, plus half again for
# what was not measured (a larger batch, fragmentation), rounded up to a size Fargate
# accepts for TASK_CPU (its smallest, from 0.5 GiB per 0.25 vCPU, is usually already more).
derived_task_memory() {
    local workers needed least step
    workers="$(service_workers)"
    needed=$(((ARBITER_MEMORY_MB + workers * WORKER_MEMORY_MB) * 3 / 2))
    case "$TASK_CPU" in
        256) least=512 step=512 ;;
        512) least=1024 step=1024 ;;
        1024) least=2048 step=1024 ;;
        2048) least=4096 step=1024 ;;
        4096) least=8192 step=1024 ;;
        8192) least=16384 step=4096 ;;
        16384) least=32768 step=8192 ;;
        *) die "TASK_CPU=$TASK_CPU is not a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384" ;;
    esac
    ((needed > least)) || needed=$least
    echo $(((needed + step - 1) / step * step))
}

# "a, b" -> ["a","b"]
json_list() { jq -cn --arg items "$1" '$items | split(",") | map(gsub("^\\s+|\\s+$"; "")) | map(select(length > 0))'; }

render_task_definition() {
    local vars workers
    workers="$(service_workers)"
    vars="$(jq -n --arg ECS_TASK_FAMILY "$ECS_TASK_FAMILY" --arg TASK_CPU "$TASK_CPU" \
        --arg STROKE_WORKERS "$workers" \
        --arg TASK_MEMORY "$TASK_MEMORY" --arg EXECUTION_ROLE_ARN "$EXECUTION_ROLE_ARN" \
        --arg TASK_ROLE_ARN "$TASK_ROLE_ARN" --arg ECS_CONTAINER_NAME "$ECS_CONTAINER_NAME" \
        --arg IMAGE_URI "$IMAGE_URI" --arg API_KEYS_SECRET_ARN "$API_KEYS_SECRET_ARN" \
        --arg LOG_GROUP "$LOG_GROUP" --arg AWS_REGION "$AWS_REGION" '$ARGS.named')"
    # Every ${NAME} in the template must have a value; an empty task role means none.
    jq --argjson vars "$vars" '
        walk(if type == "string"
             then gsub("\\$\\{(?<name>[A-Z0-9_]+)\\}"; $vars[.name] // error("no value for ${\(.name)}"))
             else . end)
        | if .taskRoleArn == "" then del(.taskRoleArn) else . end' "$TASK_DEFINITION_TEMPLATE"
}

ensure_log_group() {
    if ((DRY_RUN)); then
        aws_call logs describe-log-groups --log-group-name-prefix "$LOG_GROUP"
        printf '# only if the log group does not exist yet:\n'
        aws_call logs create-log-group --log-group-name "$LOG_GROUP"
        aws_call logs put-retention-policy --log-group-name "$LOG_GROUP" \
            --retention-in-days "$LOG_RETENTION_DAYS"
        return 0
    fi
    local found
    found="$(aws_call logs describe-log-groups --log-group-name-prefix "$LOG_GROUP" \
        | jq --arg name "$LOG_GROUP" '[.logGroups[] | select(.logGroupName == $name)] | length')"
    if ((found)); then
        log "Log group $LOG_GROUP exists"
    else
        aws_call logs create-log-group --log-group-name "$LOG_GROUP"
        aws_call logs put-retention-policy --log-group-name "$LOG_GROUP" \
            --retention-in-days "$LOG_RETENTION_DAYS"
    fi
}

TASK_DEFINITION_ARN=""
register_task_definition() {
    local file
    new_temp_file file # removed on exit (deploy/lib.sh)
    render_task_definition >"$file" || die "could not fill in $TASK_DEFINITION_TEMPLATE"
    if ((DRY_RUN)); then
        printf '# task definition (%s):\n' "$file"
        sed 's/^/#   /' "$file"
        aws_call ecs register-task-definition --cli-input-json "file://$file"
        TASK_DEFINITION_ARN="$ECS_TASK_FAMILY"
        return 0
    fi
    TASK_DEFINITION_ARN="$(aws_call ecs register-task-definition --cli-input-json "file://$file" \
        | jq -r '.taskDefinition.taskDefinitionArn')"
    log "Registered $TASK_DEFINITION_ARN"
}

ensure_cluster() {
    if ((DRY_RUN)); then
        aws_call ecs describe-clusters --clusters "$ECS_CLUSTER"
        printf '# only if the cluster is not ACTIVE:\n'
        aws_call ecs create-cluster --cluster-name "$ECS_CLUSTER" \
            --settings name=containerInsights,value=enabled
        return 0
    fi
    local status
    status="$(aws_call ecs describe-clusters --clusters "$ECS_CLUSTER" | jq -r '.clusters[0].status // "MISSING"')"
    if [[ "$status" == ACTIVE ]]; then
        log "Cluster $ECS_CLUSTER exists"
    else
        aws_quiet ecs create-cluster --cluster-name "$ECS_CLUSTER" \
            --settings name=containerInsights,value=enabled
    fi
}

configure_target_group() {
    if ((!DRY_RUN)); then
        local target_type
        target_type="$(aws_call elbv2 describe-target-groups --target-group-arns "$TARGET_GROUP_ARN" \
            | jq -r '.TargetGroups[0].TargetType')"
        [[ "$target_type" == ip ]] \
            || die "target group $TARGET_GROUP_ARN has target type '$target_type': Fargate (awsvpc) needs 'ip'"
    fi
    aws_quiet elbv2 modify-target-group --target-group-arn "$TARGET_GROUP_ARN" \
        --health-check-protocol HTTP --health-check-path /readyz --health-check-port traffic-port \
        --health-check-interval-seconds 15 --health-check-timeout-seconds 5 \
        --healthy-threshold-count 2 --unhealthy-threshold-count 3 --matcher HttpCode=200
    # Draining: 15 s, three times the longest request (STROKE_REQUEST_TIMEOUT, 5 s), and the
    # same as STROKE_SHUTDOWN_GRACE in deploy/task-definition.json (docs/operators/operations.md).
    aws_quiet elbv2 modify-target-group-attributes --target-group-arn "$TARGET_GROUP_ARN" \
        --attributes Key=deregistration_delay.timeout_seconds,Value=15
}

create_or_update_service() {
    local network
    network="$(jq -cn --argjson subnets "$(json_list "$SUBNETS")" \
        --argjson groups "$(json_list "$SECURITY_GROUPS")" --arg public "$ASSIGN_PUBLIC_IP" \
        '{awsvpcConfiguration: {subnets: $subnets, securityGroups: $groups, assignPublicIp: $public}}')"
    local status=MISSING
    if ((DRY_RUN)); then
        aws_call ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"
        printf '# if the service is not ACTIVE yet:\n'
    else
        status="$(aws_call ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
            | jq -r '.services[0].status // "MISSING"')"
    fi
    if [[ "$status" == DRAINING ]]; then
        die "service $ECS_SERVICE is still being deleted (DRAINING): try again in a few minutes"
    fi
    if [[ "$status" != ACTIVE ]]; then
        local balancer
        balancer="$(jq -cn --arg arn "$TARGET_GROUP_ARN" --arg name "$ECS_CONTAINER_NAME" \
            --argjson port "$CONTAINER_PORT" \
            '[{targetGroupArn: $arn, containerName: $name, containerPort: $port}]')"
        aws_quiet ecs create-service --cluster "$ECS_CLUSTER" --service-name "$ECS_SERVICE" \
            --task-definition "$TASK_DEFINITION_ARN" --desired-count "$MIN_TASKS" \
            --launch-type FARGATE --platform-version LATEST \
            --network-configuration "$network" --load-balancers "$balancer" \
            --health-check-grace-period-seconds "$HEALTH_CHECK_GRACE_SECONDS" \
            --deployment-configuration "$DEPLOYMENT_CONFIGURATION" --propagate-tags SERVICE
    fi
    if ((DRY_RUN)); then
        printf '# else:\n'
    fi
    if ((DRY_RUN)) || [[ "$status" == ACTIVE ]]; then
        # The desired count is left to auto scaling.
        aws_quiet ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
            --task-definition "$TASK_DEFINITION_ARN" --network-configuration "$network" \
            --health-check-grace-period-seconds "$HEALTH_CHECK_GRACE_SECONDS"
    fi
}

# Through the ALB, only the API's routes: one rule forwards ROUTED_PATHS to the target
# group, and anything else gets the listener's default, a 404 (security review: the docs and
# /metrics reveal the BentoML version and per-route counts).
configure_listener() {
    [[ -n "$LISTENER_ARN" ]] || return 0
    local conditions actions not_found rule=""
    conditions="$(jq -cn --argjson paths "$(json_list "$ROUTED_PATHS")" \
        '[{Field: "path-pattern", PathPatternConfig: {Values: $paths}}]')"
    actions="$(jq -cn --arg arn "$TARGET_GROUP_ARN" '[{Type: "forward", TargetGroupArn: $arn}]')"
    not_found="$(jq -cn '[{Type: "fixed-response", FixedResponseConfig: {StatusCode: "404",
        ContentType: "application/json", MessageBody: "{\"error\": \"not found\"}"}}]')"
    if ((DRY_RUN)); then
        aws_call elbv2 describe-rules --listener-arn "$LISTENER_ARN"
        printf '# if no rule forwards to the target group yet, else modify-rule:\n'
    else
        rule="$(aws_call elbv2 describe-rules --listener-arn "$LISTENER_ARN" | jq -r --arg arn "$TARGET_GROUP_ARN" \
            '[.Rules[] | select(.IsDefault | not) | select(any(.Actions[]; .TargetGroupArn == $arn))][0].RuleArn // ""')"
    fi
    if [[ -n "$rule" ]]; then
        aws_quiet elbv2 modify-rule --rule-arn "$rule" --conditions "$conditions" --actions "$actions"
    else
        aws_quiet elbv2 create-rule --listener-arn "$LISTENER_ARN" --priority "$LISTENER_RULE_PRIORITY" \
            --conditions "$conditions" --actions "$actions"
    fi
    aws_quiet elbv2 modify-listener --listener-arn "$LISTENER_ARN" --default-actions "$not_found"
}

configure_auto_scaling() {
    local resource="service/$ECS_CLUSTER/$ECS_SERVICE"
    local policy
    policy="$(jq -cn --argjson target "$CPU_TARGET" '{
        TargetValue: $target,
        PredefinedMetricSpecification: {PredefinedMetricType: "ECSServiceAverageCPUUtilization"},
        ScaleOutCooldown: 60, ScaleInCooldown: 300}')"
    aws_quiet application-autoscaling register-scalable-target --service-namespace ecs \
        --resource-id "$resource" --scalable-dimension ecs:service:DesiredCount \
        --min-capacity "$MIN_TASKS" --max-capacity "$MAX_TASKS"
    aws_quiet application-autoscaling put-scaling-policy --service-namespace ecs \
        --resource-id "$resource" --scalable-dimension ecs:service:DesiredCount \
        --policy-name "$ECS_SERVICE-cpu-target-tracking" --policy-type TargetTrackingScaling \
        --target-tracking-scaling-policy-configuration "$policy"
}

preflight
ensure_log_group
register_task_definition
ensure_cluster
configure_target_group
configure_listener
create_or_update_service
configure_auto_scaling
if ((WAIT)); then
    log "Waiting for $ECS_SERVICE to become stable (up to 10 minutes)"
    aws_call ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"
fi
if ((!DRY_RUN)); then
    log "Service $ECS_SERVICE in cluster $ECS_CLUSTER runs $TASK_DEFINITION_ARN"
fi
