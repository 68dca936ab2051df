#!/usr/bin/env bash
# In-memory TLS benchmark (no network): runs bench-handshake (release build)
# with a fresh ECDSA P-256 certificate, then `openssl speed` for the two AEADs
# at the record size bench-handshake uses (16384 bytes), for comparison.
#
# Usage: tools/bench-tls/memory.sh [--quick] [extra bench-handshake options]
# Bounded: bench-handshake stops starting rounds after --max-seconds (240 s
# here) and each command runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
RUN_TIMEOUT=600           # seconds, for the whole bench-handshake run
SPEED_SECONDS=3           # per `openssl speed` algorithm
RECORD_BYTES=16384        # TLS's largest plaintext record (RFC 8446 section 5.1)

swift build -c release --product bench-handshake >/dev/null
bench=$(swift build -c release --show-bin-path)/bench-handshake
work=$(mktemp -d /tmp/bench-tls-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
    -out "$work/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null

if [[ $quick == 1 ]]; then
    sizes=(--handshakes 100 --rounds 3 --records 500 --floor-iterations 500)
else
    sizes=(--handshakes 400 --rounds 9 --records 4000 --floor-iterations 4000)
fi
echo "# memory.sh: loadavg=$(cut -d' ' -f1-3 /proc/loadavg) $(openssl version)"
timeout "$RUN_TIMEOUT" "$bench" --cert "$work/cert.pem" --key "$work/key.pem" --max-seconds 240 "${sizes[@]}" "$@"
for algorithm in aes-128-gcm chacha20-poly1305; do
    timeout 60 openssl speed -evp "$algorithm" -bytes "$RECORD_BYTES" -seconds "$SPEED_SECONDS" 2>/dev/null \
        | awk -v a="$algorithm" '$1 == a || tolower($1) == a { printf "openssl-speed algorithm=%s MBps=%.2f\n", a, $NF / 1000 }'
done
echo "# done: loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
