# Shared helpers of the Python-driven test runs (conformance, schemathesis):
# a pinned venv, the relay binary, and a relay started on a free port.
# Source it after setting HERE (the run's folder) and defining `say`.
# shellcheck shell=bash

ROOT="$(cd "$HERE/../.." && pwd)"

# Takes the run's lock (runs in one checkout share the venv and reports).
take_lock() {
    exec 9>"$HERE/.run.lock"
    if ! flock -n 9; then
        say "another run holds $HERE/.run.lock; waiting for it"
        flock -w 900 9 || { say "gave up waiting for the lock" >&2; exit 1; }
    fi
}

# ensure_venv VENV REQUIREMENTS MODULE: creates the venv and installs the
# pinned requirements, again only when requirements.txt changed.
ensure_venv() {
    local venv="$1" requirements="$2" module="$3"
    local stamp="$venv/.requirements.sha256" want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
        say "creating venv at $venv"
        rm -rf "$venv"
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]] || ! "$venv/bin/python" -c "import $module" 2>/dev/null; then
        say "installing $(grep -v '^#' "$requirements" | xargs) into the venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        printf '%s\n' "$want" >"$stamp"
    fi
}

# Sets BIN: $RELAYBOX_BIN, or a fresh debug build.
relay_binary() {
    if [[ -n "${RELAYBOX_BIN:-}" ]]; then
        BIN="$RELAYBOX_BIN"
    else
        say "building relaybox (cargo build --locked -p relaybox)"
        (cd "$ROOT" && cargo build --locked --quiet -p relaybox)
        local target_dir="${CARGO_TARGET_DIR:-target}"
        [[ "$target_dir" = /* ]] || target_dir="$ROOT/$target_dir"
        BIN="$target_dir/debug/relaybox"
    fi
    if [[ ! -x "$BIN" ]]; then
        say "relay binary $BIN is missing or not executable" >&2
        exit 1
    fi
}

RELAY_PID=""

# start_relay OUT LOG DATA [VAR=value...]: starts the relay on 127.0.0.1:0
# with only the given RELAYBOX_* settings (none leak in from the caller's
# shell) and sets ADDR from its RELAYBOX_LISTEN line.
start_relay() {
    local out="$1" log="$2" data="$3"
    shift 3
    # Created here: the background job opens its redirections only once it
    # has been forked, which can be after the first poll.
    : >"$out"
    (
        while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(RELAYBOX_[A-Z0-9_]*\)=.*/\1/p')
        exec env "$@" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data"
    ) >"$out" 2>"$log" 9>&- &
    RELAY_PID=$!
    ADDR=""
    local i
    for ((i = 0; i < 300; i++)); do
        ADDR="$(sed -n 's/^RELAYBOX_LISTEN=//p' "$out" | head -n1)"
        [[ -n "$ADDR" ]] && return 0
        if ! kill -0 "$RELAY_PID" 2>/dev/null; then
            say "relay exited during start-up; its log:" >&2
            cat "$log" >&2
            RELAY_PID=""
            exit 1
        fi
        sleep 0.1
    done
    say "relay printed no RELAYBOX_LISTEN line within 30 s" >&2
    exit 1
}

# SIGTERM, then wait for the graceful shutdown (grace 10 s); SIGKILL after
# 20 s. Returns the relay's exit status.
stop_relay() {
    local pid="$RELAY_PID"
    RELAY_PID=""
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "relay (pid $pid) still running 20 s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}
