#!/usr/bin/env bash
# Property-based API tests of the async-attestation endpoints: schemathesis
# (pinned in requirements.txt, from PyPI) generates requests from
# docs/openapi.yaml, valid and invalid, against a real relay, and fails on
# any 5xx, any response that breaks the documented schema, status code or
# content type, and a relay that dies during the run.
#
#   bash tests/schemathesis/run.sh            # the whole run
#   bash tests/schemathesis/run.sh -n 20      # extra args go to `schemathesis run`
#
# Environment:
#   RELAYBOX_BIN  relay binary (default: `cargo build -p relaybox`, then
#                 target/debug/relaybox).
#   PYTHON        interpreter for the venv (default: python3)
#   ST_SEED       generation seed (default 1, so CI runs are reproducible)
#
# Takes about a minute once the venv exists. The relay's log goes to
# tests/schemathesis/reports/relay.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
REPORTS="$HERE/reports"
REQUIREMENTS="$HERE/requirements.txt"
SPEC="$ROOT/docs/openapi.yaml"
RUN_TIMEOUT_SECS=300

say() { printf 'schemathesis: %s\n' "$*"; }

# One run at a time per checkout: runs share the venv and the reports folder.
exec 9>"$HERE/.run.lock"
if ! flock -n 9; then
    say "another run holds $HERE/.run.lock; waiting for it"
    flock -w 600 9 || { say "gave up waiting for the lock" >&2; exit 1; }
fi

# --- Python venv with pinned schemathesis --------------------------------------
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    say "creating venv at $VENV"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]] || ! "$VENV/bin/python" -c 'import schemathesis' 2>/dev/null; then
    say "installing $(grep -v '^#' "$REQUIREMENTS" | xargs) into the venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    printf '%s\n' "$want" >"$stamp"
fi

# --- Relay binary -----------------------------------------------------------------
if [[ -n "${RELAYBOX_BIN:-}" ]]; then
    BIN="$RELAYBOX_BIN"
else
    say "building relaybox (cargo build --locked -p relaybox)"
    (cd "$ROOT" && cargo build --locked --quiet -p relaybox)
    target_dir="${CARGO_TARGET_DIR:-target}"
    [[ "$target_dir" = /* ]] || target_dir="$ROOT/$target_dir"
    BIN="$target_dir/debug/relaybox"
fi
if [[ ! -x "$BIN" ]]; then
    say "relay binary $BIN is missing or not executable" >&2
    exit 1
fi

# --- Start the relay on a free port ------------------------------------------------
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
DATA="$(mktemp -d "${TMPDIR:-/tmp}/relaybox-schemathesis.XXXXXX")"
RELAY_OUT="$REPORTS/relay.stdout"
RELAY_PID=""
cleanup() {
    if [[ -n "$RELAY_PID" ]] && kill -0 "$RELAY_PID" 2>/dev/null; then
        kill "$RELAY_PID" 2>/dev/null || true
        wait "$RELAY_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# Only this run's settings: nothing leaks in from the caller's shell. The rate
# limit is off so that the generated traffic is not answered 429.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(RELAYBOX_[A-Z0-9_]*\)=.*/\1/p')
RUST_LOG=warn RELAYBOX_ATTEST_REQUESTS_PER_SEC=0 \
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA/data" \
    >"$RELAY_OUT" 2>"$REPORTS/relay.log" &
RELAY_PID=$!
ADDR=""
for _ in $(seq 1 300); do
    ADDR="$(sed -n 's/^RELAYBOX_LISTEN=//p' "$RELAY_OUT" | head -n1)"
    [[ -n "$ADDR" ]] && break
    kill -0 "$RELAY_PID" 2>/dev/null || { say "relay exited at start:"; cat "$REPORTS/relay.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$ADDR" ]] || { say "relay did not print RELAYBOX_LISTEN in 30 s" >&2; exit 1; }
say "relay listening on $ADDR"

# --- Run ---------------------------------------------------------------------------
status=0
(
    cd "$REPORTS"
    timeout "$RUN_TIMEOUT_SECS" "$VENV/bin/schemathesis" run "$SPEC" \
        --url "http://$ADDR" \
        --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
        --mode all \
        --max-examples 60 \
        --seed "${ST_SEED:-1}" \
        --request-timeout 10 \
        --workers 2 \
        --suppress-health-check too_slow,filter_too_much \
        --report junit --report-dir "$REPORTS" \
        "$@"
) || status=$?

if ! kill -0 "$RELAY_PID" 2>/dev/null; then
    say "the relay died during the run; log in $REPORTS/relay.log" >&2
    status=1
elif grep -q "panicked" "$REPORTS/relay.log"; then
    say "the relay panicked during the run; log in $REPORTS/relay.log" >&2
    status=1
fi
if [[ $status -eq 0 ]]; then
    say "passed: no 5xx, every response matches docs/openapi.yaml"
else
    say "FAILED (exit $status)" >&2
fi
exit "$status"
