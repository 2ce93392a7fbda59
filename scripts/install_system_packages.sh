#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing, as root, waiting
# for another apt or dpkg process (e.g. unattended-upgrades on a fresh machine) to finish
# instead of failing. `make system-deps` calls it with the packages of the groups asked for.
#
#   scripts/install_system_packages.sh [options] PACKAGE...
#
# Options:
#   --lock-timeout SECONDS  how long to wait for the dpkg and apt lists locks [600]
#   --no-update             do not run `apt-get update` first
#   --include-present       also hand the packages already installed to apt-get, which
#                           (with --no-upgrade) leaves them as they are: it still takes
#                           the dpkg lock, so this exercises the wait (tests/ops)
#   -h, --help              show this help
#
# Not root: says what is missing and how to install it, and exits 0 (the tests that need
# a missing tool skip, or fail under CI). nodejs and npm count as present when their
# commands are (Node.js from other sources brings its own npm, which Debian's would clash
# with).
set -euo pipefail

LOCK_TIMEOUT=600
UPDATE=1
INCLUDE_PRESENT=0
RETRY_SECONDS=5

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --lock-timeout)
            [[ "${2:-}" =~ ^[0-9]+$ ]] || {
                printf 'error: --lock-timeout needs a number of seconds\n' >&2
                exit 2
            }
            LOCK_TIMEOUT="$2"
            shift
            ;;
        --no-update) UPDATE=0 ;;
        --include-present) INCLUDE_PRESENT=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            printf 'error: unknown option %s (see --help)\n' "$1" >&2
            exit 2
            ;;
        *) break ;;
    esac
    shift
done
(($#)) || {
    printf 'error: name the Debian packages to install (see --help)\n' >&2
    exit 2
}

present() {
    case "$1" in
        nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
        npm) command -v npm >/dev/null 2>&1 && return 0 ;;
    esac
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in "$@"; do
    present "$package" || missing+=("$package")
done
if ((INCLUDE_PRESENT)); then
    wanted=("$@")
else
    wanted=("${missing[@]}")
fi
if ((${#wanted[@]} == 0)); then
    printf 'Debian packages present: %s\n' "$*"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    printf 'Not root: to run every test, install %s (apt-get install, or make system-deps as root)\n' \
        "${missing[*]}"
    exit 0
fi

# apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout), but `apt-get update` does
# not wait for the lists lock: retry it while another process holds that lock.
APT=(apt-get -q -o "DPkg::Lock::Timeout=$LOCK_TIMEOUT")
update() {
    local deadline=$((SECONDS + LOCK_TIMEOUT)) errors
    errors="$(mktemp)"
    trap 'rm -f "$errors"' RETURN
    until "${APT[@]}" update -qq 2>"$errors"; do
        if ! grep -q 'Could not get lock' "$errors" || ((SECONDS >= deadline)); then
            cat "$errors" >&2
            return 1
        fi
        printf 'Waiting for another apt process to release the package lists...\n' >&2
        sleep "$RETRY_SECONDS"
    done
}

if ((UPDATE)); then
    update
fi
printf 'Installing %s\n' "${wanted[*]}"
DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends --no-upgrade \
    "${wanted[@]}"
