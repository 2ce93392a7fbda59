#!/usr/bin/env bash
# Build the stroke-risk Bento and its container image, and push the image to Amazon ECR
# (or to another registry). Run from anywhere; paths are relative to this file.
#
#   ./create_bento_artifacts.sh --dry-run        # show every command, run none
#   ./create_bento_artifacts.sh                  # train, build, containerize, push to ECR
#
# Steps: preflight -> train -> bentoml build (the locked requirements/serving.txt) ->
# bentoml containerize -> SBOM of the image's Python environment (CycloneDX, from that lock
# after checking the image holds exactly its packages; kept beside the Bento) -> ensure the
# ECR repository ->
# registry login -> tag -> push the image, and the SBOM as IMAGE_TAG-sbom beside it. Then
# deploy with deploy/deploy_fargate.sh.
#
# Settings, all from the environment (default in brackets):
#   AWS_REGION          AWS region [$AWS_DEFAULT_REGION, else eu-west-2]
#   AWS_PROFILE         profile of the AWS CLI; read by the CLI itself [unset]
#   AWS_ENDPOINT_URL    other AWS endpoint, e.g. a moto server for tests; passed to every
#                       call as --endpoint-url (AWS CLI v1 and v2 < 2.13 ignore the variable)
#   AWS_CLI             the AWS CLI command [aws]
#   ECR_REPOSITORY      repository name, in ECR or under REGISTRY [stroke-risk]
#   IMAGE_TAG           image tag [the Bento's version, e.g. 3kzv2hq5xgqkcaav]
#   MODEL_NAME          model in the BentoML store the Bento ships [stroke_risk_model]
#   BENTO_NAME          Bento (service) name, as in bentofile.yaml [stroke_risk]
#   CONTAINER_BACKEND   docker | podman | buildah (bentoml containerize --backend) [docker]
#   IMAGE_PLATFORM      image platform: Fargate here runs X86_64 [linux/amd64]
#   CONTAINERIZE_OPTS   extra words for `bentoml containerize`, e.g. "--opt no-cache" [none]
#   REGISTRY            push to this registry instead of ECR, e.g. 127.0.0.1:5000; skips
#                       the ECR repository and login steps (and needs no AWS CLI) [unset]
#   REGISTRY_TLS_VERIFY false to push over plain HTTP (buildah/podman --tls-verify; Docker
#                       trusts localhost registries by itself) [true]
#   SBOM_FILE           the image's CycloneDX SBOM (JSON) [sbom.cdx.json in the Bento's
#                       folder, beside bento.yaml]
#   SERVING_LOCK        the lock the image is built from and checked against
#                       [requirements/serving.txt]
#   BENTOML_HOME        BentoML store with the model and Bentos [~/bentoml]
#   BENTOML, PYTHON, CYCLONEDX   commands to use [.venv/bin/bentoml, .venv/bin/python,
#                       .venv/bin/cyclonedx-py if present]
#
# Needs bash >= 4.4, the container backend, and for ECR the AWS CLI and jq.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BENTOML_DO_NOT_TRACK=true

AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-2}}"
AWS_CLI="${AWS_CLI:-aws}"
ECR_REPOSITORY="${ECR_REPOSITORY:-stroke-risk}"
IMAGE_TAG="${IMAGE_TAG:-}"
MODEL_NAME="${MODEL_NAME:-stroke_risk_model}"
BENTO_NAME="${BENTO_NAME:-stroke_risk}"
CONTAINER_BACKEND="${CONTAINER_BACKEND:-docker}"
IMAGE_PLATFORM="${IMAGE_PLATFORM-linux/amd64}"
CONTAINERIZE_OPTS="${CONTAINERIZE_OPTS:-}"
REGISTRY="${REGISTRY:-}"
REGISTRY_TLS_VERIFY="${REGISTRY_TLS_VERIFY:-true}"
if [[ -x "$REPO_ROOT/.venv/bin/bentoml" ]]; then
    BENTOML="${BENTOML:-$REPO_ROOT/.venv/bin/bentoml}"
else
    BENTOML="${BENTOML:-bentoml}"
fi
if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
else
    PYTHON="${PYTHON:-python3}"
fi
if [[ -x "$REPO_ROOT/.venv/bin/cyclonedx-py" ]]; then
    CYCLONEDX="${CYCLONEDX:-$REPO_ROOT/.venv/bin/cyclonedx-py}"
else
    CYCLONEDX="${CYCLONEDX:-cyclonedx-py}"
fi
SBOM_FILE="${SBOM_FILE:-}"
SERVING_LOCK="${SERVING_LOCK:-$REPO_ROOT/requirements/serving.txt}"

DRY_RUN=0
SKIP_TRAIN=0
SKIP_BENTO=0
SKIP_BUILD=0
SKIP_PUSH=0

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

Train (if needed), build the Bento, build its container image and push it to ECR.

Options:
  --dry-run       print every command it would run, run none
  --skip-train    reuse the model in the store (trains anyway if there is none)
  --skip-bento    reuse the latest Bento instead of running \`bentoml build\` (no training)
  --skip-build    do not build the image; tag and push ${BENTO_NAME}:IMAGE_TAG as it is
  --skip-push     stop after the build and its SBOM: no repository, login, tag or push
  -h, --help      show this help

Settings come from the environment; see the top of this file. Current values:
  AWS_REGION=$AWS_REGION ECR_REPOSITORY=$ECR_REPOSITORY CONTAINER_BACKEND=$CONTAINER_BACKEND
  MODEL_NAME=$MODEL_NAME BENTO_NAME=$BENTO_NAME IMAGE_TAG=${IMAGE_TAG:-<bento version>}
  REGISTRY=${REGISTRY:-<ECR>} REGISTRY_TLS_VERIFY=$REGISTRY_TLS_VERIFY AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-<AWS>}
EOF
}

# shellcheck source=SCRIPTDIR/deploy/lib.sh
source "$REPO_ROOT/deploy/lib.sh"

# Show a command (stdout in a dry run, the log otherwise) and run it unless --dry-run.
run() {
    if ((DRY_RUN)); then
        printf '+ %s\n' "$(quoted "$@")"
        return 0
    fi
    printf '+ %s\n' "$(quoted "$@")" >&2
    "$@"
}

while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --skip-train) SKIP_TRAIN=1 ;;
        --skip-bento) SKIP_BENTO=1 ;;
        --skip-build) SKIP_BUILD=1 ;;
        --skip-push) SKIP_PUSH=1 ;;
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

case "$CONTAINER_BACKEND" in
    docker | podman | buildah) ;;
    *) die "CONTAINER_BACKEND=$CONTAINER_BACKEND is not supported: use docker, podman or buildah" ;;
esac
case "$REGISTRY_TLS_VERIFY" in
    true | false) ;;
    *) die "REGISTRY_TLS_VERIFY must be true or false, not '$REGISTRY_TLS_VERIFY'" ;;
esac

USE_ECR=0
if ((!SKIP_PUSH)) && [[ -z "$REGISTRY" ]]; then
    USE_ECR=1
fi
# Tagging and pushing an already built image needs no Bento when IMAGE_TAG names it.
NEEDS_BENTO=1
if ((SKIP_BENTO && SKIP_BUILD)) && [[ -n "$IMAGE_TAG" ]]; then
    NEEDS_BENTO=0
fi
NEEDS_BENTOML=$((NEEDS_BENTO))
NEEDS_BACKEND=$((!SKIP_BUILD || !SKIP_PUSH))

AWS_CMD=("$AWS_CLI")
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    AWS_CMD+=(--endpoint-url "$AWS_ENDPOINT_URL")
fi
AWS_CMD+=(--region "$AWS_REGION")

read -r -a EXTRA_CONTAINERIZE_OPTS <<<"$CONTAINERIZE_OPTS"

require_command() { # command, what it is for
    command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

preflight() {
    if ((DRY_RUN)); then
        ((NEEDS_BACKEND)) && [[ "$CONTAINER_BACKEND" == docker ]] && run docker info
        ((USE_ECR)) && run "${AWS_CMD[@]}" sts get-caller-identity
        return 0
    fi
    if ((NEEDS_BENTOML)); then
        require_command "$BENTOML" "install the project first (make install)"
    fi
    if ((NEEDS_BACKEND)); then
        require_command "$CONTAINER_BACKEND" "install it, or choose CONTAINER_BACKEND=docker|podman|buildah"
        if [[ "$CONTAINER_BACKEND" == docker ]] && ! docker info >/dev/null 2>&1; then
            die "no Docker engine is running (docker info failed): start Docker, or use CONTAINER_BACKEND=buildah"
        fi
    fi
    if ((USE_ECR)); then
        require_command "$AWS_CLI" "install the AWS CLI (Debian: apt-get install awscli), or set REGISTRY"
        require_command jq "install jq (apt-get install jq)"
        if ! "${AWS_CMD[@]}" sts get-caller-identity >/dev/null 2>&1; then
            die "no usable AWS credentials (aws sts get-caller-identity failed): run 'aws configure' or set AWS_PROFILE"
        fi
    fi
}

model_in_store() {
    "$PYTHON" -c 'import sys, bentoml; bentoml.models.get(sys.argv[1])' "$MODEL_NAME:latest" \
        >/dev/null 2>&1
}

train() {
    if ((SKIP_BENTO)); then
        return 0 # a model trained now would not reach the image
    fi
    if ((SKIP_TRAIN)); then
        if ((DRY_RUN)); then
            printf '# --skip-train: runs "make train" only if %s is not in the store\n' \
                "$MODEL_NAME:latest"
            return 0
        fi
        if model_in_store; then
            log "Using $MODEL_NAME:latest from the model store"
            return 0
        fi
        log "No $MODEL_NAME:latest in the model store: training one despite --skip-train"
    fi
    run make -C "$REPO_ROOT" train
}

BENTO_TAG=""
build_bento() {
    if ((!NEEDS_BENTO)); then
        return 0
    fi
    if ((SKIP_BENTO)); then
        if ((DRY_RUN)); then
            BENTO_TAG="$BENTO_NAME:<bento-version>"
            run "$BENTOML" get "$BENTO_NAME:latest" -o path
            return 0
        fi
        local path
        path="$("$BENTOML" get "$BENTO_NAME:latest" -o path 2>/dev/null)" \
            || die "no Bento $BENTO_NAME:latest in the store: drop --skip-bento"
        BENTO_TAG="$BENTO_NAME:$(basename "$path")"
        log "Using Bento $BENTO_TAG"
        return 0
    fi
    if ((DRY_RUN)); then
        run "$BENTOML" build "$REPO_ROOT" -o tag
        BENTO_TAG="$BENTO_NAME:<bento-version>"
        return 0
    fi
    local output
    printf '+ %s\n' "$(quoted "$BENTOML" build "$REPO_ROOT" -o tag)" >&2
    output="$(cd "$REPO_ROOT" && "$BENTOML" build "$REPO_ROOT" -o tag)"
    BENTO_TAG="$(sed -n 's/^__tag__://p' <<<"$output" | tail -n 1)"
    [[ -n "$BENTO_TAG" ]] || die "bentoml build did not report a Bento tag: $output"
    log "Built Bento $BENTO_TAG"
}

containerize() {
    local options=(--backend "$CONTAINER_BACKEND" --image-tag "$LOCAL_IMAGE")
    if [[ -n "$IMAGE_PLATFORM" ]]; then
        options+=(--opt "platform=$IMAGE_PLATFORM")
    fi
    if ((DRY_RUN)); then
        run "$BENTOML" containerize "$BENTO_TAG" "${options[@]}" "${EXTRA_CONTAINERIZE_OPTS[@]}"
        return 0
    fi
    # BentoML 1.4.40 refuses the bentofile's dockerfile_template when its build context (a
    # temporary folder) is not under the working directory (bentoml/BentoML#5566): run it in
    # a private temporary folder that is also its TMPDIR.
    local workdir status=0
    new_temp_dir workdir
    (cd "$workdir" &&
        TMPDIR="$workdir" run "$BENTOML" containerize "$BENTO_TAG" "${options[@]}" "${EXTRA_CONTAINERIZE_OPTS[@]}") ||
        status=$?
    rm -rf "$workdir"
    return "$status"
}

# The installed distributions of the image's Python environment, one name==version a line,
# then its PEP 508 marker environment as "# environment {json}" (packaging is in the image's
# lock): run in the image itself (its PATH leads to the Bento's virtual environment), so
# what ships is checked against the lock it was built from, transitive dependencies included.
LIST_DISTRIBUTIONS='import importlib.metadata as m, json; from packaging.markers import default_environment as e; print("\n".join(sorted({d.name + "==" + d.version for d in m.distributions()}))); print("# environment " + json.dumps(e()))'

list_image_distributions() {
    local list=(python -c "$LIST_DISTRIBUTIONS")
    if [[ "$CONTAINER_BACKEND" == buildah ]]; then
        if ((DRY_RUN)); then
            run buildah from "$LOCAL_IMAGE"
            run buildah run "<container>" -- "${list[@]}"
            run buildah rm "<container>"
            return 0
        fi
        local container status=0
        container="$(buildah from --quiet "$LOCAL_IMAGE")"
        buildah run "$container" -- "${list[@]}" || status=$?
        buildah rm "$container" >/dev/null
        return "$status"
    fi
    if ((DRY_RUN)); then
        run "$CONTAINER_BACKEND" run --rm "$LOCAL_IMAGE" "${list[@]}"
        return 0
    fi
    "$CONTAINER_BACKEND" run --rm "$LOCAL_IMAGE" "${list[@]}"
}

image_sbom() {
    if [[ -z "$SBOM_FILE" ]]; then
        if ((DRY_RUN)); then
            SBOM_FILE="<bento-path>/sbom.cdx.json"
        elif ((NEEDS_BENTO)); then
            SBOM_FILE="$("$BENTOML" get "$BENTO_TAG" -o path)/sbom.cdx.json"
        else
            SBOM_FILE="$REPO_ROOT/reports/sbom/$BENTO_NAME-$IMAGE_TAG.cdx.json"
        fi
    fi
    # The SBOM describes the image's lock (requirements/serving.txt, hashes included), after
    # checking the image holds exactly that lock's packages; the image's own listing stays
    # beside it (.txt), and the lock entries it was built from (.lock.txt).
    local listed="${SBOM_FILE%.cdx.json}.txt" locked="${SBOM_FILE%.cdx.json}.lock.txt"
    local check=("$PYTHON" "$REPO_ROOT/scripts/supply_chain/locked_environment.py" for-image
        "$SERVING_LOCK" "$listed" "$locked")
    local convert=("$CYCLONEDX" requirements --output-reproducible --of JSON -o "$SBOM_FILE"
        "$locked")
    if ((DRY_RUN)); then
        list_image_distributions
        run "${check[@]}"
        run "${convert[@]}"
        return 0
    fi
    mkdir -p "$(dirname "$SBOM_FILE")"
    log "Listing the Python packages in $LOCAL_IMAGE"
    list_image_distributions >"$listed" \
        || die "could not list the Python packages in $LOCAL_IMAGE: no SBOM written"
    grep -q '==' "$listed" || die "$LOCAL_IMAGE listed no Python packages: no SBOM written"
    run "${check[@]}" >&2 || die "$LOCAL_IMAGE does not hold exactly the packages of" \
        "$SERVING_LOCK (above): no SBOM written, nothing pushed"
    run "${convert[@]}" >&2 || die "cyclonedx-py could not write $SBOM_FILE"
    log "SBOM of $LOCAL_IMAGE's Python environment ($(grep -c '==' "$locked") packages, as" \
        "locked): $SBOM_FILE"
}

# The SBOM travels with the image: a one-file image (FROM scratch) tagged IMAGE_TAG-sbom in
# the same repository, so whoever can pull the image can pull what it contains.
push_sbom() {
    local sbom_uri="$IMAGE_URI-sbom" context="<temporary folder with the SBOM>"
    if ((!DRY_RUN)); then
        new_temp_dir context
        cp "$SBOM_FILE" "$context/sbom.cdx.json"
        printf '%s\n' 'FROM scratch' \
            "LABEL org.opencontainers.image.description=\"CycloneDX SBOM of $IMAGE_URI\"" \
            'COPY sbom.cdx.json /sbom.cdx.json' >"$context/Containerfile"
    fi
    local build=("$CONTAINER_BACKEND" build)
    [[ "$CONTAINER_BACKEND" == buildah ]] && build=(buildah bud)
    build+=(--tag "$sbom_uri" --file "$context/Containerfile" "$context")
    if ((DRY_RUN)); then
        run "${build[@]}"
    elif ! run "${build[@]}" >&2; then
        rm -rf "$context"
        die "could not build the SBOM image $sbom_uri"
    else
        rm -rf "$context"
    fi
    run "$CONTAINER_BACKEND" push "${TLS_OPTIONS[@]}" "$sbom_uri"
}

REGISTRY_HOST=""
ensure_ecr_repository() {
    local describe=("${AWS_CMD[@]}" ecr describe-repositories --repository-names "$ECR_REPOSITORY")
    local create=("${AWS_CMD[@]}" ecr create-repository --repository-name "$ECR_REPOSITORY"
        --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE)
    if ((DRY_RUN)); then
        run "${describe[@]}"
        printf '# only if the repository does not exist yet:\n'
        run "${create[@]}"
        REGISTRY_HOST="${AWS_ACCOUNT_ID:-<aws-account-id>}.dkr.ecr.$AWS_REGION.amazonaws.com"
        return 0
    fi
    local output errors
    new_temp_file errors # removed on exit, die included (deploy/lib.sh)
    printf '+ %s\n' "$(quoted "${describe[@]}")" >&2
    if output="$("${describe[@]}" 2>"$errors")"; then
        log "ECR repository $ECR_REPOSITORY exists"
    elif grep -q RepositoryNotFoundException "$errors"; then
        printf '+ %s\n' "$(quoted "${create[@]}")" >&2
        if output="$("${create[@]}" 2>"$errors")"; then
            log "Created ECR repository $ECR_REPOSITORY"
        elif grep -q RepositoryAlreadyExistsException "$errors"; then
            # Another run created it between our two calls.
            output="$("${describe[@]}")"
        else
            die "could not create ECR repository $ECR_REPOSITORY: $(tail -n 1 "$errors")"
        fi
    else
        die "could not look up ECR repository $ECR_REPOSITORY: $(tail -n 1 "$errors")"
    fi
    local uri
    uri="$(jq -r '(.repositories // [.repository])[0].repositoryUri' <<<"$output")"
    REGISTRY_HOST="${uri%%/*}"
    [[ -n "$REGISTRY_HOST" && "$REGISTRY_HOST" != null ]] \
        || die "ECR did not report a repository URI for $ECR_REPOSITORY"
}

ecr_login() {
    local login=("$CONTAINER_BACKEND" login --username AWS --password-stdin "$REGISTRY_HOST")
    printf '+ %s | %s\n' "$(quoted "${AWS_CMD[@]}" ecr get-login-password)" \
        "$(quoted "${login[@]}")" | if ((DRY_RUN)); then cat; else cat >&2; fi
    if ((!DRY_RUN)); then
        "${AWS_CMD[@]}" ecr get-login-password | "${login[@]}" >&2 \
            || die "could not log $CONTAINER_BACKEND in to $REGISTRY_HOST"
    fi
}

TLS_OPTIONS=()
tag_and_push() {
    if [[ "$REGISTRY_TLS_VERIFY" == false && "$CONTAINER_BACKEND" != docker ]]; then
        TLS_OPTIONS=(--tls-verify=false)
    fi
    if [[ "$REGISTRY_TLS_VERIFY" == false && "$CONTAINER_BACKEND" == docker ]]; then
        log "Docker trusts 127.0.0.1/localhost registries over HTTP; others need insecure-registries"
    fi
    run "$CONTAINER_BACKEND" tag "$LOCAL_IMAGE" "$IMAGE_URI"
    run "$CONTAINER_BACKEND" push "${TLS_OPTIONS[@]}" "$IMAGE_URI"
}

preflight
train
build_bento
if [[ -z "$IMAGE_TAG" ]]; then
    IMAGE_TAG="${BENTO_TAG#*:}"
fi
LOCAL_IMAGE="$BENTO_NAME:$IMAGE_TAG"
if ((SKIP_BUILD)); then
    log "Skipping the image build: using $LOCAL_IMAGE"
else
    containerize
fi
if ((SKIP_BUILD && SKIP_PUSH)); then
    log "Skipping the push: the image is $LOCAL_IMAGE (no image built, so no SBOM)"
    exit 0
fi
image_sbom
if ((SKIP_PUSH)); then
    log "Skipping the push: the image is $LOCAL_IMAGE, its SBOM $SBOM_FILE"
    exit 0
fi
if ((USE_ECR)); then
    ensure_ecr_repository
    IMAGE_URI="$REGISTRY_HOST/$ECR_REPOSITORY:$IMAGE_TAG"
    ecr_login
else
    IMAGE_URI="$REGISTRY/$ECR_REPOSITORY:$IMAGE_TAG"
fi
tag_and_push
push_sbom
if ((!DRY_RUN)); then
    log "Pushed $IMAGE_URI; deploy it with: IMAGE_URI=$IMAGE_URI deploy/deploy_fargate.sh"
fi
printf 'IMAGE_URI=%s\n' "$IMAGE_URI"
