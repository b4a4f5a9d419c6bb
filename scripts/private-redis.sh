# Sourced by the cost scripts (take-cost.sh, append-variants.sh): starts a
# private redis-server on a free loopback port with no persistence, sets
# $port, $tmp and cli (redis-cli on it), and stops it on exit.
command -v redis-server >/dev/null || { echo "redis-server is missing: sudo apt-get install -y redis-server" >&2; exit 1; }

tmp=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 1 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
