#!/usr/bin/env bash
# Run a long, quiet command and say every 10 s (HEARTBEAT_SECONDS) that it is still working, so a person waiting
# at `make install` (or CI's log) sees progress; the command's exit status is kept.
# Usage: scripts/with_heartbeat.sh "what it is doing" command [args...]
set -euo pipefail
what="$1"
shift
started=$SECONDS
(
	while sleep "${HEARTBEAT_SECONDS:-10}"; do
		echo "  ... ${what}: $((SECONDS - started)) s so far"
	done
) &
beat=$!
trap 'kill "$beat" 2>/dev/null || true' EXIT
"$@"
