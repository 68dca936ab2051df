#!/usr/bin/env bash
# Instruction counts of the server side of full handshakes under callgrind:
# only calls inside the benchmark's exchange function (the server's
# receive and takeOutput) are counted, for capnet and for libssl, so the
# libssl client that drives both is left out. Instruction counts do not
# depend on how busy the machine is.
#
# Usage: tools/bench-tls/profile.sh [HANDSHAKES]   (default 200, at most 2000)
# Writes callgrind.capnet.out and callgrind.libssl.out to tools/out/bench-tls/.
set -euo pipefail
cd "$(dirname "$0")/../.."

handshakes=${1:-200}
(( handshakes >= 1 && handshakes <= 2000 )) || { echo "HANDSHAKES must be 1...2000" >&2; exit 2; }
RUN_TIMEOUT=900           # seconds per callgrind run
TOP_ENTRIES=25

swift build -c release --product bench-handshake >/dev/null
bench=$(swift build -c release --show-bin-path)/bench-handshake
out=tools/out/bench-tls
mkdir -p "$out"
work=$(mktemp -d /tmp/bench-tls-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
    -out "$work/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null

for server in capnet libssl; do
    type=$([[ $server == capnet ]] && echo CapnetConnection || echo LibSSLConnection)
    # The mangled name of <type>.exchange(_:) in bench-handshake.
    symbol=$(nm "$bench" | awk '{ print $NF }' | grep -E "^\\\$s15bench_handshake[0-9]+${type}C8exchange" | grep -v TW | head -1)
    [[ -n $symbol ]] || { echo "profile.sh: no exchange symbol for $type" >&2; exit 1; }
    timeout "$RUN_TIMEOUT" valgrind --tool=callgrind --toggle-collect="$symbol" \
        --callgrind-out-file="$out/callgrind.$server.out" \
        "$bench" --cert "$work/cert.pem" --key "$work/key.pem" --servers "$server" --parts full \
        --handshakes "$handshakes" --rounds 1 2>"$work/valgrind.log" >/dev/null
    total=$(grep -o 'Collected : [0-9]*' "$work/valgrind.log" | awk '{ print $3 }')
    echo "profile server=$server handshakes=$handshakes instructions=$total per_handshake=$(( total / handshakes ))"
done
echo "# top entries, capnet, inclusive, with the benchmark's own frames left out"
echo "# (libcrypto is stripped, so its internal functions show as addresses):"
callgrind_annotate --inclusive=yes "$out/callgrind.capnet.out" 2>/dev/null | sed -n '/file:function/,$p' \
    | grep -E '^ *[0-9,]+ \(' | swift demangle --simplified \
    | grep -v -E 'libc-start|below main|bench-handshake/|exchange\(|\?\?\?:0x' \
    | sed -E 's| \[/[^]]*\]$||; s|/work/[^:]*/Sources/|Sources/|' \
    | awk '!seen[$0]++' | cut -c1-150 | head -n "$TOP_ENTRIES"
