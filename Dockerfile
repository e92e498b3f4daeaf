# syntax=docker/dockerfile:1
#
# Relaybox container image.
#
#   docker build -t relaybox .
#   docker run -p 8080:8080 -v relaybox-data:/var/lib/relaybox \
#       -e RELAYBOX_SERVER_PUBLIC_URLS=ws://localhost:8080 relaybox
#
# The relay listens on 0.0.0.0:8080 inside the container. A wildcard bind only
# lets it accept the loopback names (localhost:8080, 127.0.0.1:8080) as JWT
# audience, so set RELAYBOX_SERVER_PUBLIC_URLS (comma-separated) to the URL(s)
# clients really use, e.g. wss://relay.example.com behind a TLS proxy.
# Any other setting can be given as RELAYBOX_<SECTION>_<KEY>; note that an
# unknown RELAYBOX_* variable is a start-up error, not silently ignored.

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM rust:1-bookworm AS builder

WORKDIR /src

# The workspace: its manifest, lock file and member crates (crates/*). Nothing
# else in the repository is needed to build the binary.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates

# The registry and target caches are BuildKit cache mounts, so rebuilding after
# a source change recompiles only the workspace crates. The binary is copied
# out of the cache mount, which is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release -p relaybox --locked \
    && install -D -m 0755 target/release/relaybox /out/relaybox

# ---------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates only: the health check below needs no extra tools. Not
# pinned to a version: bookworm's security updates replace the exact version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged system user with fixed ids, so that volume ownership is
# predictable and orchestrators can check runAsNonRoot by number.
RUN groupadd --system --gid 10001 relaybox \
    && useradd --system --uid 10001 --gid relaybox --no-create-home \
        --home-dir /var/lib/relaybox --shell /usr/sbin/nologin relaybox \
    && install -d -o relaybox -g relaybox -m 0750 /var/lib/relaybox

COPY --from=builder /out/relaybox /usr/local/bin/relaybox
COPY config/relaybox.toml /etc/relaybox/relaybox.toml

# The sled mailbox store. Created and owned by the relaybox user above, so a
# new named volume is initialised with that ownership.
VOLUME ["/var/lib/relaybox"]

USER 10001:10001
WORKDIR /var/lib/relaybox

EXPOSE 8080

# Health probe without curl: bash (in debian:bookworm-slim) opens a TCP socket
# through /dev/tcp, sends a plain HTTP/1.1 GET /ready and checks the status
# line. /ready answers 200 once the relay accepts clients and 503 while it
# drains on shutdown. Installing curl instead would add a dozen libraries to
# the image for this one request. The port is the one in CMD; change both
# together.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /ready HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"]

# The relay handles SIGTERM itself: readiness turns 503, sockets are closed
# with 1001, connections get server.shutdown_grace_ms (10 s) to finish, then
# the store is flushed. Give `docker stop` more than that (compose sets
# stop_grace_period: 30s; use `docker stop -t 30` by hand).
STOPSIGNAL SIGTERM

ENTRYPOINT ["relaybox"]
CMD ["serve", "--config", "/etc/relaybox/relaybox.toml", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/relaybox"]
