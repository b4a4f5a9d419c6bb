#!/usr/bin/env bash
# Instructions per benchmark op, counted by valgrind's callgrind: repeatable
# on a shared machine where ns/op moves by ±30%. It runs the benchmark at
# two op counts and divides the difference, so set-up (catalogue, tokens)
# cancels out.
#   scripts/callgrind-per-op.sh ./bench 'BenchmarkConn/page_plain$' [N1 N2]
# Needs valgrind. Go's asynchronous preemption signals crash callgrind, so
# they are turned off; cgo is off so the binary is pure Go.
set -euo pipefail
pkg=${1:?package dir}; bench=${2:?benchmark regexp}; n1=${3:-5000}; n2=${4:-25000}
bin=$(mktemp /tmp/callgrind-per-op.XXXXXX)
trap 'rm -f "$bin"' EXIT
CGO_ENABLED=0 go test -c -o "$bin" "$pkg"
ir() {
  (cd "$pkg" && GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "${1}x" -test.cpu 1 2>&1) |
    awk '/Collected/ {print $4}'
}
a=$(ir "$n1"); b=$(ir "$n2")
echo "$bench: $(( (b - a) / (n2 - n1) )) instructions/op"
