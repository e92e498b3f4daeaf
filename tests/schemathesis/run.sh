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
VENV="$HERE/.venv"
REPORTS="$HERE/reports"
RUN_TIMEOUT_SECS=300

say() { printf 'schemathesis: %s\n' "$*"; }
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"
SPEC="$ROOT/docs/openapi.yaml"

take_lock
ensure_venv "$VENV" "$HERE/requirements.txt" schemathesis
relay_binary

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
DATA="$(mktemp -d "${TMPDIR:-/tmp}/relaybox-schemathesis.XXXXXX")"
cleanup() {
    stop_relay || true
    rm -rf "$DATA"
}
trap cleanup EXIT

# The rate limit is off so that the generated traffic is not answered 429.
start_relay "$REPORTS/relay.stdout" "$REPORTS/relay.log" "$DATA/data" \
    RUST_LOG=warn RELAYBOX_ATTEST_REQUESTS_PER_SEC=0
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
