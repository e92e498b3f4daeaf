#!/usr/bin/env bash
# Rolling restart of one cluster node under load (docs/benchmarks.md
# "Rolling restart"): redis-server (AOF, appendfsync always), relay nodes A
# and B on it, HAProxy in front (leastconn, GET /ready checks every 500 ms),
# and relaybox-bench `pairs --reconnect` through HAProxy. When the measured
# window starts, node A gets SIGTERM (readiness turns 503, its sockets are
# closed over server.shutdown_spread_ms), exits, and is started again. The
# script samples both nodes' accepted-connection counters every second and
# prints connects per second per node; the bench report gives the delivery
# latency over the window, i.e. during the restart. NORESTART=1 runs the
# same load without the restart (the baseline); SPREAD_MS=0 closes node A's
# sockets all at once (server.shutdown_spread_ms, default 5000).
#
#   cargo build --release -p relaybox -p relaybox-bench
#   bash docs/bench/rolling-restart.sh pairs -c 2500 --rate 1000 --warmup 5 -d 15 --drain 5
#
# Needs redis-server, redis-cli, haproxy, curl and python3 on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$PWD/target/release/relaybox
W=$(mktemp -d /tmp/relaybox-rolling.XXXX)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
RP=$(port); PA=$(port); PB=$(port); LB=$(port)
cleanup() {
  kill "$(cat $W/sampler.pid 2>/dev/null)" 2>/dev/null || true
  for f in $W/*.pid; do kill -9 "$(cat $f)" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

redis-server --port $RP --bind 127.0.0.1 --dir $W --save "" --appendonly yes --appendfsync always \
  --stream-node-max-bytes 1024 > $W/redis.log 2>&1 &
echo $! > $W/redis.pid
until redis-cli -p $RP ping >/dev/null 2>&1; do sleep 0.05; done

# start_node NAME PORT: a relay node on the Redis, in the background.
cat > $W/start-node.sh <<S
#!/usr/bin/env bash
env RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC=0 RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP=0 \
  RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_IP=0 RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC=0 \
  RELAYBOX_LIMITS_MAX_CONNECTIONS=0 RELAYBOX_LOG_LEVEL=warn \
  RELAYBOX_SERVER_SHUTDOWN_SPREAD_MS=${SPREAD_MS:-5000} \
  RELAYBOX_SERVER_PUBLIC_URLS=ws://127.0.0.1:$LB \
  RELAYBOX_STORE_BACKEND=redis RELAYBOX_STORE_REDIS_URL=redis://127.0.0.1:$RP \
  $BIN serve --listen 127.0.0.1:\$2 --data-dir $W/\$1 > $W/\$1.out 2>> $W/\$1.log &
echo \$! > $W/\$1.pid
until grep -q RELAYBOX_LISTEN $W/\$1.out 2>/dev/null; do sleep 0.05; done
S
bash $W/start-node.sh a $PA
bash $W/start-node.sh b $PB

# The restart, run by the bench when its window starts.
cat > $W/restart-a.sh <<S
#!/usr/bin/env bash
date +%s.%N > $W/restart.start
P=\$(cat $W/a.pid)
kill -TERM \$P
while kill -0 \$P 2>/dev/null; do sleep 0.05; done
date +%s.%N > $W/restart.exited
bash $W/start-node.sh a $PA
date +%s.%N > $W/restart.back
S

cat > $W/h.cfg <<H
global
    maxconn 9000
defaults
    mode http
    # A node that stopped listening refuses at once: try the other one.
    retries 2
    option redispatch 1
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend f
    bind 127.0.0.1:$LB
    default_backend b
backend b
    balance leastconn
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 500ms fall 1 rise 2
    server a 127.0.0.1:$PA check
    server b 127.0.0.1:$PB check
H
haproxy -f $W/h.cfg > $W/haproxy.log 2>&1 &
echo $! > $W/haproxy.pid
sleep 1.5
kill -0 "$(cat $W/haproxy.pid)" || { cat $W/haproxy.log; exit 1; }

# Accepted connections of each node, once a second.
(
  while true; do
    t=$(date +%s.%N)
    a=$(curl -s -m 0.5 http://127.0.0.1:$PA/metrics | awk '/^relaybox_connections_total\{result="accepted"\}/{print $2}' || true)
    b=$(curl -s -m 0.5 http://127.0.0.1:$PB/metrics | awk '/^relaybox_connections_total\{result="accepted"\}/{print $2}' || true)
    echo "$t ${a:--} ${b:--}" >> $W/samples
    sleep 1
  done
) &
echo $! > $W/sampler.pid

hook=(--at-window-start "bash $W/restart-a.sh")
[ -n "${NORESTART:-}" ] && hook=()
target/release/relaybox-bench "$@" --url ws://127.0.0.1:$LB --reconnect "${hook[@]}" --server-pid "$(cat $W/b.pid)"
sleep 1
kill "$(cat $W/sampler.pid)" 2>/dev/null || true

python3 - "$W" <<'P'
import sys, os
w = sys.argv[1]
def read(name):
    p = os.path.join(w, name)
    return float(open(p).read()) if os.path.exists(p) else None
t0 = read("restart.start")
rows = [l.split() for l in open(os.path.join(w, "samples"))]
if t0:
    print(f"node A: SIGTERM at t=0, exited at t={read('restart.exited') - t0:.1f} s, serving again at t={read('restart.back') - t0:.1f} s")
else:
    t0 = float(rows[0][0])
print("connects per second (accepted sockets since the previous sample), t relative to the SIGTERM:")
print("   t(s)  node A  node B")
prev = None
for t, a, b in rows:
    t = float(t)
    if prev:
        # A restarted node starts counting from 0 again.
        da = "-" if a == "-" or prev[1] == "-" else str(max(0, int(float(a)) - int(float(prev[1]))) if float(a) >= float(prev[1]) else int(float(a)))
        db = "-" if b == "-" or prev[2] == "-" else str(int(float(b)) - int(float(prev[2])))
        if -3 <= t - t0 <= 25:
            print(f"{t - t0:7.1f}  {da:>6}  {db:>6}")
    prev = (t, a, b)
P
