#!/usr/bin/env bash
# make bench-wrk: wrk against a gateway on bench/bench.yaml, all on
# 127.0.0.1. Every run is bounded (DURATION). With REDIS=1 (the default
# when redis-server is installed) it also measures stock decisions against
# a local redis-server and runs redis-benchmark on the same take.lua, the
# physical limit of one Redis on this machine.
#
#   DURATION=10s CONNS=64 THREADS=2 REDIS=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REDIS=${REDIS:-$(command -v redis-server >/dev/null && echo 1 || echo 0)}
ADDR=127.0.0.1:8088
OUT=bench/results
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: sudo apt-get install -y wrk" >&2; exit 1
  fi
fi

pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_up() {
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$ADDR/healthz" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "gateway did not start" >&2; exit 1
}

bench() { # name script
  echo "== $1: wrk -t$THREADS -c$CONNS -d$DURATION -s bench/$2 http://$ADDR"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "bench/$2" "http://$ADDR" | tee "$OUT/$1.txt"
}

cp bench/bench.yaml "$tmp/bench.yaml"
sed -i "s|\.\./conf/|$PWD/conf/|" "$tmp/bench.yaml"

./bin/flashgate serve --config "$tmp/bench.yaml" 2>"$tmp/gw.log" &
pids+=($!)
wait_up
bench static static.lua
bench soldout soldout.lua
bench buy-memory buy.lua
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

if [ "$REDIS" = 1 ]; then
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  sed -i "s|^redis:|redis:\n  addrs: [\"127.0.0.1:$port\"]|; s|^log:|stock: {store: redis}\nlog:|" "$tmp/bench.yaml"
  ./bin/flashgate warm --config "$tmp/bench.yaml" --force
  ./bin/flashgate serve --config "$tmp/bench.yaml" 2>"$tmp/gw.log" &
  pids+=($!)
  wait_up
  bench buy-redis buy.lua
  bench soldout-redis soldout.lua
  echo "== redis-benchmark: the same take.lua, straight to redis-server (-c $CONNS, pipeline 16)"
  # shellcheck disable=SC2046
  redis-benchmark -p "$port" -c "$CONNS" -n 300000 -P 16 -r 100000000 -q \
    $(go run ./bench/takecmd --config "$tmp/bench.yaml" --activity big) \
    | tr '\r' '\n' | tail -1 | sed 's/^.*__rand_int__: /take.lua: /' | tee "$OUT/redis-benchmark.txt"
fi
echo "results in $OUT/"
