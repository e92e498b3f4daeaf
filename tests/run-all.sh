#!/usr/bin/env bash
# The whole Relaybox test suite: lints, Rust unit and integration tests, the
# JS interop test with the official WalletConnect client, the WebSocket
# conformance run and the OpenAPI property tests of the attestation endpoints. Installs what it needs (npm ci, a Python venv,
# redis-server for cluster mode) on a fresh machine. This is the README's test command; .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "redis-server (cluster-mode tests) and strace (fsync-order test), installed with apt-get when missing"
MISSING=""
command -v redis-server >/dev/null 2>&1 || MISSING="$MISSING redis-server"
command -v strace >/dev/null 2>&1 || MISSING="$MISSING strace"
if [ -n "$MISSING" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $MISSING
fi
redis-server --version
strace -V | head -1

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "crate metadata and API docs (cargo doc without warnings)"
python3 tests/check-crates.py
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked

step "cargo build (relaybox binary for the interop and conformance runs)"
cargo build --locked -p relaybox
export RELAYBOX_BIN="$PWD/target/debug/relaybox"

step "cargo test (unit, snapshot, property and integration tests)"
cargo test --workspace --locked

step "interop: official @walletconnect/sign-client against the relay"
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error && npm test)

step "conformance: Autobahn cases against the relay's WebSocket layer"
bash tests/conformance/run.sh

step "schemathesis: the HTTP endpoints (attestation, /rpc, /public-key) against docs/openapi.yaml"
bash tests/schemathesis/run.sh

step "deploy files: docker-compose.yml and the Dockerfile against the relay's config keys"
tests/schemathesis/.venv/bin/python tests/check-deploy.py

printf '\nall test stages passed\n'
