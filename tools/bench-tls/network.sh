#!/usr/bin/env bash
# Full TLS 1.3 handshakes over a network path, capnet against nginx, in one run.
#
# Layout (two namespaces this script creates and removes):
#   namespace C ("client") holds capnet-load, the kernel side of capnet's tap
#   (192.0.2.1/24) and one end of a veth pair (198.51.100.1/24).
#   capnet serves on the tap at 192.0.2.2, as a process in namespace C that
#   runs its own TCP/IP stack on the tap. nginx listens on the other veth end,
#   198.51.100.2, in namespace S. Both servers are one link away from the
#   client's kernel stack.
# Both servers use one ECDSA P-256 certificate made here, X25519 and
# TLS_AES_128_GCM_SHA256 (capnet-load offers only those), TLS 1.3 only. The
# server runs on CPU 1 and capnet-load on CPU 0 (taskset).
#
# Usage: sudo tools/bench-tls/network.sh [--quick]
#   --quick: one 10 s run per server (under two minutes with start-up).
#   default: ROUNDS (3) pairs of RUN_SECONDS (20 s) runs, alternating which
#   server goes first.
# Environment: CONCURRENCY (default 8), RUN_SECONDS, ROUNDS.
# Needs root, release builds of capnet and capnet-load, nginx and taskset.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
[[ ${1:-} == --quick ]] && quick=1
RUN_SECONDS=${RUN_SECONDS:-$([[ $quick == 1 ]] && echo 10 || echo 20)}
ROUNDS=${ROUNDS:-$([[ $quick == 1 ]] && echo 1 || echo 3)}
CONCURRENCY=${CONCURRENCY:-8}
# Bounds: every run stops by itself; these keep a mistyped setting from running for long.
(( RUN_SECONDS >= 1 && RUN_SECONDS <= 120 )) || { echo "RUN_SECONDS must be 1...120" >&2; exit 2; }
(( ROUNDS >= 1 && ROUNDS <= 10 )) || { echo "ROUNDS must be 1...10" >&2; exit 2; }
SERVER_CPU=1
CLIENT_CPU=0
STARTUP_POLLS=100         # 0.1 s each: 10 s for a server to start answering
STOP_POLLS=50             # 0.1 s each: 5 s for a server to exit after SIGTERM

if [[ $(id -u) -ne 0 ]]; then
    echo "network.sh: needs root for namespaces, a tap and a veth pair" >&2
    exit 1
fi

bin=$(swift build -c release --show-bin-path)
capnet=$bin/capnet
load=$bin/capnet-load
[[ -x $capnet && -x $load ]] || { echo "network.sh: build first: swift build -c release --product capnet; swift build -c release --product capnet-load" >&2; exit 1; }

tag=$$
client_ns=cbt-client-$tag
server_ns=cbt-server-$tag
tap=cbttap0
work=$(mktemp -d /tmp/bench-tls-network.XXXXXX)
server_pid=

stop_server() {
    [[ -n $server_pid ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq "$STOP_POLLS"); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

cleanup() {
    stop_server
    ip netns del "$client_ns" 2>/dev/null || true
    ip netns del "$server_ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
    -out "$work/cert.pem" -days 2 -subj /CN=bench.test \
    -addext "subjectAltName=IP:192.0.2.2,IP:198.51.100.2" 2>/dev/null

ip netns add "$client_ns"
ip netns add "$server_ns"
ip -n "$client_ns" link set lo up
ip -n "$server_ns" link set lo up
ip -n "$client_ns" tuntap add dev "$tap" mode tap
ip -n "$client_ns" addr add 192.0.2.1/24 dev "$tap"
ip -n "$client_ns" link set "$tap" up
ip -n "$client_ns" link add cbtveth0 type veth peer name cbtveth1 netns "$server_ns"
ip -n "$client_ns" addr add 198.51.100.1/24 dev cbtveth0
ip -n "$server_ns" addr add 198.51.100.2/24 dev cbtveth1
ip -n "$client_ns" link set cbtveth0 up
ip -n "$server_ns" link set cbtveth1 up

mkdir -p "$work/nginx/logs"
mkdir -m 700 "$work/state"  # capnet requires a private state directory
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 198.51.100.2:443 ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.3;
        ssl_ecdh_curve X25519;
        location / { return 200 "bench\n"; }
    }
}
CONF

start_capnet() {
    ip netns exec "$client_ns" taskset -c "$SERVER_CPU" "$capnet" serve --tap "$tap" --address 192.0.2.2/24 \
        --state-dir "$work/state" --cert "$work/cert.pem" --key "$work/key.pem" --log-level warning \
        >"$work/capnet.log" 2>&1 &
    server_pid=$!
    url=https://192.0.2.2/healthz
}

start_nginx() {
    ip netns exec "$server_ns" taskset -c "$SERVER_CPU" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" \
        >"$work/nginx.log" 2>&1 &
    server_pid=$!
    url=https://198.51.100.2/
}

wait_ready() {
    for _ in $(seq "$STARTUP_POLLS"); do
        if ip netns exec "$client_ns" curl --silent --insecure --max-time 1 --output /dev/null "$url"; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "network.sh: server did not answer at $url" >&2
    cat "$work"/*.log "$work/nginx/logs/error.log" >&2 2>/dev/null || true
    return 1
}

cpu_ticks() {  # utime + stime of a process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

run_one() {  # server name; prints one result line
    local name=$1
    "start_$name"
    wait_ready
    local ticks_before ticks_after load_before
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    ticks_before=$(cpu_ticks "$server_pid")
    /usr/bin/time -f "%U %S" -o "$work/client-time" \
        ip netns exec "$client_ns" taskset -c "$CLIENT_CPU" "$load" --json --insecure --mode full \
        --suite TLS_AES_128_GCM_SHA256 --group x25519 --concurrency "$CONCURRENCY" \
        --duration "$RUN_SECONDS" "$url" >"$work/load.json"
    ticks_after=$(cpu_ticks "$server_pid")
    stop_server
    python3 - "$name" "$work/load.json" "$work/client-time" "$ticks_before" "$ticks_after" \
        "$(getconf CLK_TCK)" "$load_before" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
name, path, client_time, before, after, tick, load_before, load_after = sys.argv[1:]
d = json.load(open(path))
server_cpu = (int(after) - int(before)) / int(tick)
client_cpu = sum(float(x) for x in open(client_time).read().split()[-2:])
elapsed = d["elapsed_seconds"]
n = max(d["handshakes"], 1)
lat = d.get("handshake_latency_ms") or {}
print(f"network server={name} handshakes={d['handshakes']} errors={d['errors']['total']} "
      f"hs_per_s={d['handshakes_per_second']:.1f} p50_ms={lat.get('p50', 0):.3f} p99_ms={lat.get('p99', 0):.3f} "
      f"server_cpu_s={server_cpu:.2f} server_cpu_us_per_hs={server_cpu / n * 1e6:.1f} "
      f"server_busy={server_cpu / elapsed:.2f} client_busy={client_cpu / elapsed:.2f} "
      f"suite={(d.get('negotiated') or {}).get('cipher_suite', '?')} load={load_before}->{load_after}", flush=True)
PY
}

echo "# network.sh: rounds=$ROUNDS run_seconds=$RUN_SECONDS concurrency=$CONCURRENCY loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then order="capnet nginx"; else order="nginx capnet"; fi
    for name in $order; do
        echo -n "round=$round "
        run_one "$name"
    done
done
echo "# done: loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
