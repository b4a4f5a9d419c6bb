#!/usr/bin/env bash
# take-cost.sh: Redis's own CPU per call of the stock script (take.lua)
# next to a naive buy script (SISMEMBER, GET, DECRBY, SADD), in sync mode
# and in async mode (the same call appending a 256-byte order to the
# shard's Stream), and in sync mode with pay_within (the same call adding
# the unit's due mark, at a distinct deadline each, as at a real sale).
# Two more rows split the async append's cost: the same async call with
# the XADD line taken out (the 4th key and the order carried into Lua,
# nothing appended), and a bare XADD of the same entry from
# redis-benchmark (its usec_per_call, no script).
# It starts a private redis-server on a free loopback port, runs
# redis-benchmark on EVALSHA of each script in interleaved rounds and
# prints INFO commandstats usec_per_call per round and the medians, with
# the ratios the speed targets are stated in.
#
#   ROUNDS=5 REQUESTS=200000 scripts/take-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
CONNS=${CONNS:-32}
. scripts/private-redis.sh

cat >"$tmp/naive.lua" <<'LUA'
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 2 end
if tonumber(redis.call('GET', KEYS[2]) or '0') <= 0 then return 4 end
redis.call('DECRBY', KEYS[2], 1)
redis.call('SADD', KEYS[1], ARGV[1])
return 1
LUA
naive=$(cli script load "$(cat "$tmp/naive.lua")")
take=$(cli script load "$(cat stock/lua/take.lua)")
xadd_line="    redis.call('XADD', KEYS[4], '*', ns .. ':' .. ARGV[2], ARGV[6])"
grep -qxF "$xadd_line" stock/lua/take.lua || { echo "take.lua's XADD line changed: update take-cost.sh" >&2; exit 1; }
carry=$(cli script load "$(grep -vxF "$xadd_line" stock/lua/take.lua)")
order=1:$(head -c 192 /dev/urandom | base64 -w0) # version 1, a 256-byte order, as the gateway passes it
tag='{fg:big:0}'

# run NAME ARGS...: a fresh data set, then usec_per_call of EVALSHA (of $cmd if set).
run() {
  local name=$1; shift
  cli flushall >/dev/null
  cli set naive:stock 1000000000 >/dev/null
  cli hset "$tag:s" v 1 pu 1 n 1 s 1000000000 f 0 >/dev/null
  cli config resetstat >/dev/null
  redis-benchmark -p "$port" -c "$CONNS" -n "$REQUESTS" -P 16 -r 100000000 -q "$@" >/dev/null 2>&1
  cli info commandstats | tr -d '\r' | sed -n "s/^cmdstat_${cmd:-evalsha}:.*usec_per_call=\([0-9.]*\).*/\1/p" >>"$tmp/$name"
}

for r in $(seq 1 "$ROUNDS"); do
  run naive EVALSHA "$naive" 2 naive:buyers naive:stock u__rand_int__
  run sync EVALSHA "$take" 3 "$tag:s" "$tag:pend" "$tag:fence" 1 u__rand_int__ 0 __rand_int__ 1
  run async EVALSHA "$take" 4 "$tag:s" "$tag:pend" "$tag:fence" "$tag:orders" 1 u__rand_int__ 0 __rand_int__ 1 "$order"
  run carry EVALSHA "$carry" 4 "$tag:s" "$tag:pend" "$tag:fence" "$tag:orders" 1 u__rand_int__ 0 __rand_int__ 1 "$order"
  cmd=xadd run xadd XADD "$tag:orders" '*' 1:u__rand_int__ "$order"
  run pay EVALSHA "$take" 5 "$tag:s" "$tag:pend" "$tag:fence" "$tag:orders" "$tag:due" 1 u__rand_int__ 0 __rand_int__ 1 "" 1__rand_int__
  echo "round $r: naive $(tail -1 "$tmp/naive") sync $(tail -1 "$tmp/sync") async $(tail -1 "$tmp/async") pay_within $(tail -1 "$tmp/pay") (carried, not appended $(tail -1 "$tmp/carry"); bare XADD $(tail -1 "$tmp/xadd")) usec/call"
done
median() { sort -g "$tmp/$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median naive); s=$(median sync); a=$(median async); p=$(median pay); c=$(median carry); x=$(median xadd)
echo "medians of $ROUNDS rounds (redis-benchmark -c $CONNS -P 16 -n $REQUESTS, usec_per_call):"
echo "  naive $n  take.lua sync $s  take.lua async $a  take.lua sync with pay_within $p"
echo "  async with the order carried but not appended $c  bare XADD of the entry $x"
awk -v n="$n" -v s="$s" -v a="$a" -v p="$p" 'BEGIN {printf "  sync/naive %.2fx (target <= 1.5x)  async/sync %.2fx (target <= 1.25x)  pay_within/sync %.2fx\n", s/n, a/s, p/s}'
