#!/usr/bin/env bash
# Build, push and run the stroke-risk container image on this machine, without a Docker
# engine: Bento -> OCI image (bentoml containerize --backend buildah) -> registry on
# 127.0.0.1 -> pulled and run with podman -> requests. Needs root and Debian's buildah,
# podman, skopeo, docker-registry, runc and debootstrap (`make system-deps`).
#
#   scripts/container/local_pipeline.sh all              # every step, then clean up
#   scripts/container/local_pipeline.sh base build registry push run smoke load
#   scripts/container/local_pipeline.sh podman ps -a     # podman on the pipeline's storage
#   scripts/container/local_pipeline.sh clean            # remove everything it made
#
# The base image. `bentoml containerize` renders the Bento's Dockerfile (BentoML's template
# with deploy/Dockerfile.template's two stages, both FROM python:3.11-slim: uv builds the
# virtual environment in the first, only the environment and the Bento reach the second).
# No public registry can be reached here, so `base` makes a stand-in for
# python:3.11-slim: Debian bookworm (whose python3 is 3.11) with pip, made by debootstrap,
# imported under that very name into the pipeline's private image storage. The generated
# Dockerfile then runs unchanged, and on a machine with Docker the same bentofile.yaml gives
# the usual image on the real python:3.11-slim. The stand-in also trusts the host's extra
# CA certificates (/usr/local/share/ca-certificates), for builds behind a TLS-inspecting
# proxy; that trust ends up in the locally built image, never in a user's.
#
# Settings, all from the environment (default in brackets):
#   CONTAINER_SCRATCH   everything the pipeline makes: image storage, registry data, logs,
#                       state; outside the repository, because `bentoml build` would walk
#                       it [${TMPDIR:-/tmp}/stroke-risk-container]
#   BASE_CACHE          the debootstrapped base as a tar, reused between runs until
#                       `clean` (KEEP_BASE=1 keeps it) [$CONTAINER_SCRATCH/cache]
#   KEEP_BASE           1: `clean` keeps BASE_CACHE [0]
#   DEBIAN_SUITE        Debian release for the stand-in base; its python3 must match the
#                       Bento's Python [bookworm]
#   BASE_IMAGE          the base image the Bento's Dockerfile names [python:3.11-slim]
#   BENTO               Bento to containerize; unset: `bentoml build` one now [unset]
#   BENTOML_HOME        BentoML store with the model (and Bentos) [~/bentoml]
#   IMAGE_NAME          image repository name [stroke-risk]
#   IMAGE_TAG           image tag [the Bento's version]
#   REGISTRY_PORT       the loopback registry's port [a free port]
#   APP_PORT            the container's port 3000 is published on 127.0.0.1:APP_PORT
#                       [a free port]
#   CONTAINER_NAME      name of the running container [stroke-risk-local]
#   STORAGE_DRIVER      overlay | vfs: the image storage. overlay mounts the image's layers
#                       as Docker and Fargate do; vfs copies the whole image into every new
#                       container (slow, but works where overlay cannot be mounted, e.g. on
#                       an overlay filesystem) [overlay when the kernel has it and the
#                       scratch folder is not on overlayfs, else vfs; kept for the storage's
#                       lifetime]
#   READY_TIMEOUT       seconds to wait for /readyz [240]
#   LOAD_USERS          Locust users for `load` [4]
#   LOAD_SECONDS        duration of `load` in seconds [20]
#   BENTOML, PYTHON, LOCUST   commands to use [.venv/bin/... if present]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BENTOML_DO_NOT_TRACK=true

CONTAINER_SCRATCH="${CONTAINER_SCRATCH:-${TMPDIR:-/tmp}/stroke-risk-container}"
BASE_CACHE="${BASE_CACHE:-$CONTAINER_SCRATCH/cache}"
KEEP_BASE="${KEEP_BASE:-0}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
BENTO="${BENTO:-}"
IMAGE_NAME="${IMAGE_NAME:-stroke-risk}"
IMAGE_TAG="${IMAGE_TAG:-}"
REGISTRY_PORT="${REGISTRY_PORT:-}"
APP_PORT="${APP_PORT:-}"
CONTAINER_NAME="${CONTAINER_NAME:-stroke-risk-local}"
STORAGE_DRIVER="${STORAGE_DRIVER:-}"
READY_TIMEOUT="${READY_TIMEOUT:-240}"
LOAD_USERS="${LOAD_USERS:-4}"
LOAD_SECONDS="${LOAD_SECONDS:-20}"
venv_or_path() { # the project's .venv copy of a command, else the one on PATH
    if [[ -x "$REPO_ROOT/.venv/bin/$1" ]]; then echo "$REPO_ROOT/.venv/bin/$1"; else echo "$2"; fi
}
BENTOML="${BENTOML:-$(venv_or_path bentoml bentoml)}"
PYTHON="${PYTHON:-$(venv_or_path python python3)}"
LOCUST="${LOCUST:-$(venv_or_path locust locust)}"

TOOLS=(buildah podman skopeo docker-registry runc debootstrap curl)
STATE="$CONTAINER_SCRATCH/state"
CONF="$CONTAINER_SCRATCH/conf"
# The whole pipeline (buildah, podman, skopeo) uses a private storage and configuration,
# never the machine's own /var/lib/containers.
export CONTAINERS_STORAGE_CONF="$CONF/storage.conf"
export CONTAINERS_CONF="$CONF/containers.conf"
export BUILDAH_ISOLATION=chroot
export TMPDIR="$CONTAINER_SCRATCH/tmp"

usage() {
    cat <<EOF
Usage: scripts/container/local_pipeline.sh [--help] COMMAND [COMMAND...]
       scripts/container/local_pipeline.sh podman|buildah|skopeo ARGS...

Commands run in the order given:
  check      the tools are installed and we are root
  base       stand-in for $BASE_IMAGE: debootstrap $DEBIAN_SUITE + python3 + pip (cached)
  build      bentoml build (unless BENTO is set), then bentoml containerize --backend buildah
  registry   start a registry on 127.0.0.1 (filesystem storage in the scratch folder)
  push       push the image to that registry and read it back with skopeo
  run        delete the local image, pull it from the registry, run it with podman on
             127.0.0.1:APP_PORT with a read-only root filesystem, wait for /readyz
  smoke      a valid patient gets 200 and a probability, an invalid one 400; the container
             runs as a non-root user and holds the model
  load       a short headless Locust run (locustfile.py) against the container
  stop       stop and remove the container
  clean      stop everything; remove images, registry, scratch storage, and the iptables
             chains, bridge, state files and IP forwarding podman's CNI networking left
             (only what was absent before, and only when no container uses CNI)
  all        check base build registry push run smoke load, then clean (also on failure)
  env        print the exports that point podman/buildah/skopeo at the pipeline's storage
  podman|buildah|skopeo ARGS...   run that tool on the pipeline's storage

Scratch folder: $CONTAINER_SCRATCH (settings: see the top of this file).
EOF
}

log() { printf '[container] %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
state_get() { cat "$STATE/$1" 2>/dev/null || true; }
state_set() { printf '%s\n' "$2" >"$STATE/$1"; }

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

check_tools() {
    local missing=() tool
    for tool in "${TOOLS[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || die "missing ${missing[*]}: run \`make system-deps\` as root" \
        "(Debian packages buildah podman skopeo docker-registry runc debootstrap curl)"
    [[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot builds, podman networking)"
}

# The storage driver: the one the storage was made with, else STORAGE_DRIVER, else overlay
# where it can be mounted.
storage_driver() {
    local driver
    driver="$(state_get storage_driver)"
    if [[ -z "$driver" ]]; then
        driver="$STORAGE_DRIVER"
        if [[ -z "$driver" ]]; then
            driver=vfs
            if grep -qw overlay /proc/filesystems 2>/dev/null &&
                [[ "$(stat -f -c %T "$CONTAINER_SCRATCH")" != overlayfs ]]; then
                driver=overlay
            fi
        fi
        state_set storage_driver "$driver"
    fi
    echo "$driver"
}

# Write the private configuration, and note what podman/CNI will leave on the host that
# was not there before, so that `clean` removes only that.
setup() {
    mkdir -p "$CONF" "$STATE" "$TMPDIR" "$CONTAINER_SCRATCH/storage" "$CONTAINER_SCRATCH/run"
    local driver
    driver="$(storage_driver)"
    case "$driver" in
        overlay | vfs) ;;
        *) die "STORAGE_DRIVER=$driver: use overlay or vfs" ;;
    esac
    cat >"$CONF/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$CONTAINER_SCRATCH/storage"
runroot = "$CONTAINER_SCRATCH/run"
EOF
    # runc and cgroupfs: what works in this kind of VM/CI runner without systemd.
    cat >"$CONF/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$CONTAINER_SCRATCH/run/libpod"
EOF
    if [[ ! -f "$STATE/host_before" ]]; then
        {
            [[ -e /var/lib/containers ]] && echo var-lib-containers
            [[ -e /var/lib/cni ]] && echo var-lib-cni
            ip link show cni-podman0 >/dev/null 2>&1 && echo cni-podman0
            iptables-save 2>/dev/null | grep -q '^:CNI-' && echo iptables-cni
            [[ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" == 1 ]] && echo ip-forward
            true
        } >"$STATE/host_before"
    fi
}

host_had() { grep -qx "$1" "$STATE/host_before" 2>/dev/null; }

cmd_base() {
    local image="docker.io/library/$BASE_IMAGE" tarball="$BASE_CACHE/$DEBIAN_SUITE-python3.tar"
    if podman image exists "$image"; then
        log "base: $image is in the pipeline's storage"
        return
    fi
    if [[ ! -f "$tarball" ]]; then
        local rootfs="$CONTAINER_SCRATCH/rootfs"
        log "base: debootstrap $DEBIAN_SUITE with python3 and pip (about a minute)"
        rm -rf "$rootfs"
        mkdir -p "$BASE_CACHE"
        debootstrap --variant=minbase --include=python3,python3-pip "$DEBIAN_SUITE" "$rootfs" \
            >"$CONTAINER_SCRATCH/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $CONTAINER_SCRATCH/debootstrap.log"
        # python:3.11-slim's pip installs into the system Python; so must the stand-in's.
        rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
        if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
            cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
            TMPDIR=/tmp chroot "$rootfs" update-ca-certificates >/dev/null
        fi
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    fi
    log "base: importing $tarball as $image"
    # SSL_CERT_FILE: uv ignores the system store unless told; pip and apt use it anyway.
    podman import \
        --change "ENV LANG=C.UTF-8" \
        --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
        --change 'CMD ["python3"]' \
        --change "LABEL org.opencontainers.image.description=local stand-in for $BASE_IMAGE" \
        "$tarball" "$image" >/dev/null
}

# Tag, path and base image of a Bento, one per line.
bento_facts() {
    "$PYTHON" - "$1" <<'EOF'
import sys

import bentoml
import yaml

bento = bentoml.bentos.get(sys.argv[1])
with open(bento.path_of("bento.yaml")) as file:
    info = yaml.safe_load(file)
print(bento.tag)
print(bento.path)
# A Bento built with a dockerfile_template (bentofile.yaml) records its base under docker.
print(
    (info.get("image") or {}).get("base_image")
    or (info.get("docker") or {}).get("base_image")
    or ""
)
EOF
}

cmd_build() {
    local bento="$BENTO" facts tag path base started
    if [[ -z "$bento" ]]; then
        log "build: bentoml build (BENTOML_HOME=${BENTOML_HOME:-~/bentoml})"
        bento="$(cd "$REPO_ROOT" && "$BENTOML" build -o tag | sed -n 's/^__tag__://p' | tail -n 1)"
        [[ -n "$bento" ]] || die "bentoml build did not report a Bento tag"
    fi
    facts="$(bento_facts "$bento")" || die "no Bento $bento in ${BENTOML_HOME:-~/bentoml}"
    { read -r tag && read -r path && read -r base; } <<<"$facts"
    [[ "$base" == "$BASE_IMAGE" ]] || die "the Bento's Dockerfile starts FROM '$base'," \
        "but the stand-in base is $BASE_IMAGE: set BASE_IMAGE (and DEBIAN_SUITE to a Debian" \
        "release with that Python)"
    local image="localhost/$IMAGE_NAME:${IMAGE_TAG:-${tag#*:}}"
    log "build: bentoml containerize $tag --backend buildah -t $image (a few minutes)"
    started=$SECONDS
    # From inside TMPDIR: BentoML 1.4.40 refuses the bentofile's dockerfile_template when the
    # build context (a temporary folder) is not under the working directory (BentoML#5566).
    (cd "$TMPDIR" && "$BENTOML" containerize "$tag" --backend buildah -t "$image") \
        >"$CONTAINER_SCRATCH/containerize.log" 2>&1 ||
        die "containerize failed; see $CONTAINER_SCRATCH/containerize.log"
    state_set image "$image"
    state_set bento "$tag"
    state_set bento_path "$path"
    state_set build_seconds "$((SECONDS - started))"
    log "build: $image in $((SECONDS - started)) s," \
        "$(podman image inspect --format '{{.Size}}' "$image") bytes"
}

registry_url() {
    local port
    port="$(state_get registry_port)"
    [[ -n "$port" ]] || die "no registry: run the \`registry\` command first"
    echo "127.0.0.1:$port"
}

cmd_registry() {
    local pid port
    pid="$(state_get registry_pid)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        log "registry: already running on $(registry_url)"
        return
    fi
    port="${REGISTRY_PORT:-$(free_port)}"
    mkdir -p "$CONTAINER_SCRATCH/registry/data"
    cat >"$CONTAINER_SCRATCH/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $CONTAINER_SCRATCH/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    setsid docker-registry serve "$CONTAINER_SCRATCH/registry/config.yml" \
        </dev/null >"$CONTAINER_SCRATCH/registry/registry.log" 2>&1 &
    state_set registry_pid "$!"
    state_set registry_port "$port"
    local tries
    for ((tries = 0; tries < 100; tries++)); do
        curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && {
            log "registry: http://127.0.0.1:$port"
            return
        }
        sleep 0.1
    done
    die "the registry did not start; see $CONTAINER_SCRATCH/registry/registry.log"
}

cmd_push() {
    local image remote started
    image="$(state_get image)"
    [[ -n "$image" ]] || die "no image: run the \`build\` command first"
    remote="$(registry_url)/$IMAGE_NAME:${image##*:}"
    log "push: $image -> $remote"
    started=$SECONDS
    buildah push --quiet --tls-verify=false "$image" "docker://$remote"
    state_set remote "$remote"
    state_set push_seconds "$((SECONDS - started))"
    log "push: done in $((SECONDS - started)) s; the registry holds" \
        "$(skopeo inspect --tls-verify=false --format '{{.Digest}}, {{len .Layers}} layers' \
            "docker://$remote")"
}

cmd_run() {
    local remote image port started url
    remote="$(state_get remote)"
    [[ -n "$remote" ]] || die "nothing pushed: run the \`push\` command first"
    image="$(state_get image)"
    # Pull what the registry holds, not what the build left in local storage.
    if [[ -n "$image" ]] && podman image exists "$image"; then podman rmi "$image" >/dev/null; fi
    log "run: pulling $remote"
    started=$SECONDS
    podman pull --quiet --tls-verify=false "$remote" >/dev/null
    state_set pull_seconds "$((SECONDS - started))"
    log "run: pulled in $(state_get pull_seconds) s"
    podman rm --force --volumes --ignore "$CONTAINER_NAME" >/dev/null
    port="${APP_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    started="$(date +%s%N)"
    # Published on loopback only, so without API keys: the image refuses to start keyless
    # unless told so (a deployment gets STROKE_API_KEYS from Secrets Manager instead).
    # As on Fargate (readonlyRootFilesystem): a read-only root, writable only where the
    # image declares a VOLUME (podman mounts a fresh volume there, with the image's owner and
    # mode, as ECS does for a task definition mountPoint on the same path).
    podman run --detach --name "$CONTAINER_NAME" \
        --read-only --read-only-tmpfs=false \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        --env STROKE_ALLOW_ANONYMOUS=true \
        --publish "127.0.0.1:$port:3000" "$remote" >/dev/null
    state_set container "$CONTAINER_NAME"
    state_set app_url "$url"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until curl -fsS "$url/readyz" >/dev/null 2>&1; do
        if [[ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER_NAME")" != true ]]; then
            podman logs "$CONTAINER_NAME" >&2 || true
            die "the container exited before it was ready"
        fi
        ((SECONDS < deadline)) || {
            podman logs "$CONTAINER_NAME" 2>&1 | tail -n 40 >&2
            die "$url/readyz not ready after $READY_TIMEOUT s"
        }
        sleep 0.2
    done
    local elapsed_ms=$((($(date +%s%N) - started) / 1000000))
    state_set ready_seconds "$((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))"
    log "run: $url ready $(state_get ready_seconds) s after podman run"
}

app_url() {
    local url
    url="$(state_get app_url)"
    [[ -n "$url" ]] || die "no running container: run the \`run\` command first"
    echo "$url"
}

cmd_smoke() {
    local url example status user
    url="$(app_url)"
    example="$(cd "$REPO_ROOT" && "$PYTHON" -c 'import json
from stroke_risk.core.schema import Patient
print(json.dumps(Patient.model_config["json_schema_extra"]["example"]))')"
    status="$(curl -sS -o "$TMPDIR/valid.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' -d "$example" "$url/predict")"
    [[ "$status" == 200 ]] || die "valid patient: expected 200, got $status"
    grep -q '"probability":' "$TMPDIR/valid.json" || die "valid patient: no probability"
    status="$(curl -sS -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: application/json' -d '{"age": -5}' "$url/predict")"
    [[ "$status" == 400 ]] || die "invalid patient: expected 400, got $status"
    user="$(podman exec "$CONTAINER_NAME" id -u)"
    [[ "$user" != 0 ]] || die "the container runs as root"
    # shellcheck disable=SC2016  # $BENTO_PATH is the container's, expanded in there
    podman exec "$CONTAINER_NAME" sh -c 'ls -d "$BENTO_PATH"/models/stroke_risk_model/*/model.yaml' \
        >/dev/null || die "no stroke_risk_model in the image"
    log "smoke: 200 with a probability, 400 for an invalid patient, uid $user, model present"
}

cmd_load() {
    local url
    url="$(app_url)"
    [[ -f "$REPO_ROOT/locustfile.py" ]] || die "no locustfile.py in $REPO_ROOT"
    log "load: Locust, $LOAD_USERS users for $LOAD_SECONDS s against $url"
    (cd "$REPO_ROOT" && "$LOCUST" -f locustfile.py --headless --only-summary \
        -u "$LOAD_USERS" -r "$LOAD_USERS" -t "${LOAD_SECONDS}s" -H "$url")
}

cmd_stop() {
    local name
    name="$(state_get container)"
    [[ -n "$name" ]] || return 0
    podman stop --ignore --time 10 "$name" >/dev/null 2>&1 || true
    podman rm --force --volumes --ignore "$name" >/dev/null
    rm -f "$STATE/container" "$STATE/app_url"
}

stop_registry() {
    local pid
    pid="$(state_get registry_pid)"
    [[ -n "$pid" ]] || return 0
    # Only our own registry: the pid must still be docker-registry serving our config.
    if kill -0 "$pid" 2>/dev/null && grep -q "$CONTAINER_SCRATCH/registry/config.yml" \
        "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        local tries
        for ((tries = 0; tries < 50; tries++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$STATE/registry_pid"
}

# Delete the iptables rules and chains CNI made (their names start with CNI-).
remove_cni_chains() {
    local tool table rule chain
    for tool in iptables ip6tables; do
        command -v "$tool" >/dev/null 2>&1 || continue
        # Only tables that exist: with iptables-nft, even listing a table creates it.
        for table in $("$tool-save" 2>/dev/null | sed -n 's/^\*//p'); do
            # Jumps from the built-in chains first, then the CNI chains themselves.
            while read -r rule; do
                eval "\"\$tool\" -t \"\$table\" -D ${rule#-A }" || true
            done < <("$tool" -t "$table" -S | grep -E '^-A [A-Z]+ .*-j CNI-' || true)
            while read -r chain; do
                "$tool" -t "$table" -F "$chain" || true
            done < <("$tool" -t "$table" -S | sed -n 's/^-N \(CNI-[^ ]*\)$/\1/p')
            while read -r chain; do
                "$tool" -t "$table" -X "$chain" || true
            done < <("$tool" -t "$table" -S | sed -n 's/^-N \(CNI-[^ ]*\)$/\1/p')
        done
    done
}

cmd_clean() {
    [[ -d "$CONTAINER_SCRATCH" ]] || return 0
    if [[ -f "$CONF/storage.conf" ]]; then
        cmd_stop
        podman rm --all --force >/dev/null 2>&1 || true
        buildah rm --all >/dev/null 2>&1 || true
        podman rmi --all --force >/dev/null 2>&1 || true
    fi
    stop_registry
    # CNI reserves one file per attached container, whatever storage it came from.
    if [[ -z "$(find /var/lib/cni/networks -type f ! -name 'last_reserved_ip*' ! -name lock \
        2>/dev/null)" ]]; then
        host_had iptables-cni || remove_cni_chains
        if ! host_had cni-podman0 && ip link show cni-podman0 >/dev/null 2>&1; then
            ip link delete cni-podman0
        fi
        host_had var-lib-cni || rm -rf /var/lib/cni
        # CNI's bridge plugin turns on IPv4 forwarding; turn it off again if it was off.
        host_had ip-forward || echo 0 >/proc/sys/net/ipv4/ip_forward
    fi
    host_had var-lib-containers || rm -rf /var/lib/containers
    # Overlay layers still mounted in the scratch folder (none once podman removed its
    # containers and images, but a crash can leave some): unmount, deepest first.
    local mounted
    while read -r mounted; do
        umount "$mounted" 2>/dev/null || umount -l "$mounted" || true
    done < <(awk -v root="$CONTAINER_SCRATCH/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r)
    if [[ "$KEEP_BASE" == 1 ]]; then
        find "$CONTAINER_SCRATCH" -mindepth 1 -maxdepth 1 ! -path "$BASE_CACHE" -exec rm -rf {} +
        log "clean: removed everything but the base cache $BASE_CACHE"
    else
        rm -rf "$CONTAINER_SCRATCH"
        [[ "$BASE_CACHE" == "$CONTAINER_SCRATCH"/* ]] || rm -rf "$BASE_CACHE"
        log "clean: removed $CONTAINER_SCRATCH"
    fi
}

cmd_env() {
    printf 'export CONTAINERS_STORAGE_CONF=%q\n' "$CONTAINERS_STORAGE_CONF"
    printf 'export CONTAINERS_CONF=%q\n' "$CONTAINERS_CONF"
    printf 'export BUILDAH_ISOLATION=chroot\n'
}

cmd_all() {
    trap 'cmd_clean' EXIT
    local step
    for step in base build registry push run smoke load; do "cmd_$step"; done
}

main() {
    (($# > 0)) || {
        usage
        exit 2
    }
    case "$1" in
        -h | --help)
            usage
            return
            ;;
        podman | buildah | skopeo)
            setup
            exec "$@"
            ;;
        env)
            cmd_env
            return
            ;;
    esac
    local command
    for command in "$@"; do
        case "$command" in
            check | base | build | registry | push | run | smoke | load | stop | clean | all) ;;
            *) die "unknown command '$command' (see --help)" ;;
        esac
    done
    check_tools
    for command in "$@"; do
        [[ "$command" == check || "$command" == clean ]] || setup
        [[ "$command" == check ]] || "cmd_$command"
    done
}

main "$@"
