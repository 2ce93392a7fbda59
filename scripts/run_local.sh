#!/usr/bin/env bash
# The API and the app side by side on this machine, for `make run`; Ctrl-C stops both.
#
# Settings (environment): PORT (API, default 3000), APP_PORT (app, default 8501).
#
# Each server runs in its own process group (setsid), so Ctrl-C reaches only this script:
# it asks both groups to stop (SIGTERM), gives them 1.5 s, then kills what is
# left, and exits 130 like any command stopped by Ctrl-C. (A trap that signals its own
# process group, `trap 'kill 0' INT TERM EXIT`, re-enters itself on the TERM it sends and
# crashes the shell: the "Segmentation fault" make used to print.)
set -euo pipefail

PORT="${PORT:-3000}"
APP_PORT="${APP_PORT:-8501}"
GRACE_TENTHS=15 # of a second: Ctrl-C must return within 2 s
groups=()

stop() {
	trap - INT TERM EXIT
	local group waited=0
	for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
	while ((waited < GRACE_TENTHS)); do
		local alive=0
		for group in "${groups[@]}"; do kill -0 -- "-$group" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
		waited=$((waited + 1))
	done
	for group in "${groups[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
}

trap 'stop; echo "Stopped the API and the app."; exit 130' INT TERM
trap 'stop' EXIT

STROKE_ALLOW_ANONYMOUS=true setsid .venv/bin/bentoml serve service.py \
	--host 127.0.0.1 --port "$PORT" &
groups+=("$!")
setsid .venv/bin/streamlit run app/app.py --server.address 127.0.0.1 \
	--server.port "$APP_PORT" --server.headless true --browser.gatherUsageStats false &
groups+=("$!")
echo "API: http://127.0.0.1:$PORT  app: http://127.0.0.1:$APP_PORT  (Ctrl-C stops both)"
# Either server ending on its own (a port in use, a crash) ends the pair.
wait -n
