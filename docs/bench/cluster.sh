#!/usr/bin/env bash
# Cluster-mode benchmark (docs/benchmarks.md "Cluster mode"): redis-server
# with AOF and appendfsync always, two relay nodes on it, and HAProxy round
# robin in front; relaybox-bench connects through HAProxy with
# --concurrency 1, so connections alternate between the nodes and every
# pair's subscriber lands on node A and its publisher on node B (the
# per-node publish/delivery counters printed at the end show it). Prints
# the bench report, then the CPU of Redis, both nodes and HAProxy over the
# whole run, and Redis's command statistics.
#
#   cargo build --release -p relaybox -p relaybox-bench
#   bash docs/bench/cluster.sh cluster pairs -c 50 -d 10 --warmup 2 --drain 3
#   bash docs/bench/cluster.sh sled-lb pairs -c 50 -d 10   # one sled relay behind the same HAProxy
#
# Env: REDIS_FSYNC=everysec REQ=false for a (not durable) reference run;
# DUMP=1 to print the nodes' Redis round-trip histograms.
# Needs redis-server, redis-cli, haproxy, curl and python3 on PATH.
set -euo pipefail
MODE=$1; shift
cd "$(dirname "$0")/../.."
BIN=target/release/relaybox
W=$(mktemp -d /tmp/relaybox-cluster-bench.XXXX)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
RP=$(port); PA=$(port); PB=$(port); LB=$(port)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 $p 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
common=(RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC=0 RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP=0 RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_IP=0 RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC=0 RELAYBOX_LIMITS_MAX_CONNECTIONS=0 RELAYBOX_LIMITS_MAX_MESSAGES_PER_TOPIC=10000000 RELAYBOX_LOG_LEVEL=warn RELAYBOX_SERVER_PUBLIC_URLS=ws://127.0.0.1:$LB)
if [ "$MODE" = cluster ]; then
  redis-server --port $RP --bind 127.0.0.1 --dir $W --save "" --appendonly yes --appendfsync ${REDIS_FSYNC:-always} --stream-node-max-bytes 1024 > $W/redis.log 2>&1 &
  RPID=$!; pids+=($RPID)
  until redis-cli -p $RP ping >/dev/null 2>&1; do sleep 0.05; done
  env "${common[@]}" RELAYBOX_STORE_REDIS_REQUIRE_FSYNC=${REQ:-true} RELAYBOX_STORE_BACKEND=redis RELAYBOX_STORE_REDIS_URL=redis://127.0.0.1:$RP $BIN serve --listen 127.0.0.1:$PA --data-dir $W/a > $W/a.out 2> $W/a.log &
  APID=$!; pids+=($APID)
  env "${common[@]}" RELAYBOX_STORE_REDIS_REQUIRE_FSYNC=${REQ:-true} RELAYBOX_STORE_BACKEND=redis RELAYBOX_STORE_REDIS_URL=redis://127.0.0.1:$RP $BIN serve --listen 127.0.0.1:$PB --data-dir $W/b > $W/b.out 2> $W/b.log &
  BPID=$!; pids+=($BPID)
  SERVERS="    server a 127.0.0.1:$PA
    server b 127.0.0.1:$PB"
else
  env "${common[@]}" $BIN serve --listen 127.0.0.1:$PA --data-dir $W/a > $W/a.out 2> $W/a.log &
  APID=$!; pids+=($APID); BPID=$APID; RPID=$APID
  SERVERS="    server a 127.0.0.1:$PA"
fi
until grep -q RELAYBOX_LISTEN $W/a.out 2>/dev/null; do sleep 0.05; done
[ "$MODE" = cluster ] && until grep -q RELAYBOX_LISTEN $W/b.out 2>/dev/null; do sleep 0.05; done
cat > $W/h.cfg <<H
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend f
    bind 127.0.0.1:$LB
    default_backend b
backend b
    balance roundrobin
$SERVERS
H
haproxy -f $W/h.cfg > $W/haproxy.log 2>&1 &
HPID=$!; pids+=($HPID)
sleep 0.5
r0=$(cpu $RPID); a0=$(cpu $APID); b0=$(cpu $BPID); h0=$(cpu $HPID); t0=$(date +%s.%N)
target/release/relaybox-bench "$@" --url ws://127.0.0.1:$LB --concurrency 1 --server-pid $APID
r1=$(cpu $RPID); a1=$(cpu $APID); b1=$(cpu $BPID); h1=$(cpu $HPID); t1=$(date +%s.%N)
T=$(getconf CLK_TCK)
python3 - <<P
el=$t1-$t0; T=$T
f=lambda a,b: (b-a)/T/el*100
print(f"whole-run CPU over {el:.1f}s (setup+warmup+measure+drain), % of one core: redis {f($r0,$r1):.0f}%  node A {f($a0,$a1):.0f}%  node B {f($b0,$b1):.0f}%  haproxy {f($h0,$h1):.0f}%" if "$MODE"=="cluster" else f"whole-run CPU over {el:.1f}s: relay {f($a0,$a1):.0f}%  haproxy {f($h0,$h1):.0f}%")
P
for n in A:$PA B:$PB; do
  [ "$MODE" = cluster ] || [ "${n%%:*}" = A ] || continue
  echo "node ${n%%:*}: $(curl -s http://127.0.0.1:${n#*:}/metrics | grep -E '^relaybox_(publishes_total|deliveries_total)' | tr '\n' ' ')"
done
if [ -n "${DUMP:-}" ]; then
  for n in $PA $PB; do curl -s http://127.0.0.1:$n/metrics | grep -E 'relaybox_redis_roundtrip_seconds_(sum|count)|relaybox_redis_roundtrip_seconds_bucket.*le="0.0(05|1)"' ; done
fi
if [ "$MODE" = cluster ]; then
  echo "cross-node check: connections per node (from haproxy stats unavailable); redis INFO:"
  redis-cli -p $RP info commandstats | grep -E "evalsha|publish" || true
  redis-cli -p $RP info persistence | grep -E "aof_enabled|aof_last_write_status"
fi
