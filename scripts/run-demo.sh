#!/usr/bin/env bash
# make run: the demo order backend on 127.0.0.1:9090 and the gateway on
# 127.0.0.1:8080 (admin on 127.0.0.1:8081), both stopped by Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every address the demo needs must be free: a port held by something else
# would answer the health check below and make a dead demo look alive.
declare -A need=(
  [127.0.0.1:9090]="the demo backend (-listen; conf/demo.yaml upstreams orders and signin)"
  [127.0.0.1:8080]="the gateway (conf/demo.yaml server.listen)"
  [127.0.0.1:8081]="the admin API (conf/demo.yaml admin.listen)"
)
taken=0
for addr in 127.0.0.1:9090 127.0.0.1:8080 127.0.0.1:8081; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
    echo "make run: $addr is already in use; it is needed for ${need[$addr]}" >&2
    taken=1
  fi
done
if [ "$taken" = 1 ]; then
  echo "make run: stop whatever listens there (ss -ltnp shows it) and try again; the demo was not started" >&2
  exit 1
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl-C (or SIGTERM) is the normal way to stop the demo: both processes
# drain and the script exits 0, so make does not report it as a failure.
stop() {
  cleanup
  trap - EXIT
  exit 0
}
trap cleanup EXIT
trap stop INT TERM

./bin/demo-backend -listen 127.0.0.1:9090 &
pids+=($!)
./bin/flashgate serve --config conf/demo.yaml &
pids+=($!)

up=
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null http://127.0.0.1:8080/healthz 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null || up=
done
if [ -z "$up" ]; then
  echo "make run: the demo did not start: see the messages above" >&2
  exit 1
fi

cat <<'TXT'

flashgate demo is running (Ctrl-C stops it):
  in a browser     http://127.0.0.1:8080/ (sign in, then buy a Phone X)
  product page     curl -i http://127.0.0.1:8080/p/phone-x
  conditional GET  curl -i -H 'If-None-Match: "<etag from above>"' http://127.0.0.1:8080/p/phone-x
  gzip             curl -si -H 'Accept-Encoding: gzip' http://127.0.0.1:8080/p/phone-x | head -12
  countdown/stock  curl -s http://127.0.0.1:8080/api/activities/phone-sale/status
  health           curl -s http://127.0.0.1:8080/healthz
  metrics          curl -s http://127.0.0.1:8081/metrics | grep flashgate_
  demo backend     curl -s http://127.0.0.1:9090/orders/count
  a purchase:      see "Walk-through" in README.md
TXT
wait -n "${pids[@]}"
