#!/usr/bin/env bash
# Helpers shared by create_bento_artifacts.sh and deploy/deploy_fargate.sh (sourced, not run).
# shellcheck shell=bash

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# A command as a person would type it: plain words bare, others single-quoted.
quoted() {
    local word out=()
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_@%+=:,./\<\>-]+$ ]]; then
            out+=("$word")
        else
            out+=("'${word//\'/\'\\\'\'}'")
        fi
    done
    printf '%s' "${out[*]}"
}
