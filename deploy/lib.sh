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

# Temporary files and folders, removed when the script exits, however it exits (die
# included). The trap's text is fixed (single-quoted): a path is only ever expanded as
# data, never run.
TEMP_FILES=()
trap 'rm -rf -- "${TEMP_FILES[@]}"' EXIT

# new_temp_file NAME: create a temporary file and put its path in the variable NAME (not
# echoed: a file made in a $(...) subshell could not be registered for removal).
new_temp_file() {
    local path
    path="$(mktemp "${TMPDIR:-/tmp}/stroke-risk.XXXXXX")"
    TEMP_FILES+=("$path")
    printf -v "$1" '%s' "$path"
}

# new_temp_dir NAME: the same for a temporary folder (removed with its contents).
new_temp_dir() {
    local path
    path="$(mktemp -d "${TMPDIR:-/tmp}/stroke-risk.XXXXXX")"
    TEMP_FILES+=("$path")
    printf -v "$1" '%s' "$path"
}
