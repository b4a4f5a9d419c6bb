#!/usr/bin/env bash
# append-variants.sh: where the async append of take.lua spends Redis's
# CPU. It runs take.lua's async call with its XADD line swapped for each
# variant below (so everything else is the same script), take.lua in sync
# mode, bare XADDs, and the current layout under other Stream node sizes,
# in interleaved rounds on a private redis-server, and prints the medians
# of INFO commandstats usec_per_call of EVALSHA (and of the XADD inside
# it) with each one's ratio to sync. The order is 256 bytes. Variants:
#   n:user   take.lua as it is: field "n:user" (built in Lua) -> "version:order"
#   n        field n (usually "1": SAMEFIELDS, no string built in Lua) ->
#            "version:user order" built by the caller
#   n,u,o    three constant fields n, u, o (SAMEFIELDS always)
#   o        one constant field, no id at all (a floor, not a usable layout)
#   nomkstream, explicit-id: take.lua's XADD with NOMKSTREAM, with an id
#            given instead of '*'
#   carried  the XADD line taken out: only the 4th key and the order
#            carried into Lua
#   bare-*   XADD alone from redis-benchmark, no script
#   nodes-*  take.lua under other stream-node-max-bytes/-entries
#   n-2k, carried-2k: take.lua and carried with a 2 KiB order (a real
#            order carries the forwarded headers too)
# README "Stock script cost" quotes one run.
#
#   ROUNDS=7 REQUESTS=200000 scripts/append-variants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
REQUESTS=${REQUESTS:-200000}
CONNS=${CONNS:-32}
. scripts/private-redis.sh

line="    redis.call('XADD', KEYS[4], '*', ns .. ':' .. ARGV[2], ARGV[6])"
grep -qxF "$line" stock/lua/take.lua || { echo "take.lua's XADD line changed: update append-variants.sh" >&2; exit 1; }
# variant NEWLINE: take.lua with its XADD line replaced, loaded; prints the sha.
variant() { cli script load "$(awk -v l="$line" -v r="$1" '$0 == l {print r; next} {print}' stock/lua/take.lua)"; }
take=$(variant "$line")
carried=$(variant "    local _ = ARGV[6]")
nfield=$(variant "    redis.call('XADD', KEYS[4], '*', ns, ARGV[6])")
onefield=$(variant "    redis.call('XADD', KEYS[4], '*', 'o', ARGV[6])")
three=$(variant "    redis.call('XADD', KEYS[4], '*', 'n', ns, 'u', ARGV[2], 'o', ARGV[6])")
nomk=$(variant "    redis.call('XADD', KEYS[4], 'NOMKSTREAM', '*', ns .. ':' .. ARGV[2], ARGV[6])")
explicit=$(variant "    redis.call('XADD', KEYS[4], '2-' .. (1000000000 - s), ns .. ':' .. ARGV[2], ARGV[6])")
body=$(head -c 192 /dev/urandom | base64 -w0) # 256 bytes
order=1:$body                          # what the gateway passes: version:order
withuser="1:u__rand_int__ $body"       # the value of layout n: version:user order
big=1:$(head -c 1536 /dev/urandom | base64 -w0) # a 2 KiB order
tag='{fg:big:0}'
K3=("$tag:s" "$tag:pend" "$tag:fence"); K4=("${K3[@]}" "$tag:orders")
A=(1 u__rand_int__ 0 __rand_int__ 1)

names=()
# run NAME ARGS...: a fresh data set, then usec_per_call of EVALSHA and XADD.
run() {
  local name=$1; shift
  [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
  cli flushall >/dev/null
  cli hset "$tag:s" v 1 pu 1 n 1 s 1000000000 f 0 >/dev/null
  if [ "$name" = nomkstream ]; then cli xadd "$tag:orders" '*' 0:x y >/dev/null; fi
  cli config resetstat >/dev/null
  redis-benchmark -p "$port" -c "$CONNS" -n "$REQUESTS" -P 16 -r 100000000 -q "$@" >/dev/null 2>&1
  local st; st=$(cli info commandstats | tr -d '\r')
  sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p' <<<"$st" >>"$tmp/$name.e"
  echo "$(sed -n 's/^cmdstat_xadd:.*usec_per_call=\([0-9.]*\).*/\1/p' <<<"$st")" >>"$tmp/$name.x"
}
nodes() { cli config set stream-node-max-bytes "$1" >/dev/null; cli config set stream-node-max-entries "$2" >/dev/null; }

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r" >&2
  nodes 4096 100
  run sync EVALSHA "$take" 3 "${K3[@]}" "${A[@]}"
  run carried EVALSHA "$carried" 4 "${K4[@]}" "${A[@]}" "$order"
  run n:user EVALSHA "$take" 4 "${K4[@]}" "${A[@]}" "$order"
  run n EVALSHA "$nfield" 4 "${K4[@]}" "${A[@]}" "$withuser"
  run n,u,o EVALSHA "$three" 4 "${K4[@]}" "${A[@]}" "$order"
  run o EVALSHA "$onefield" 4 "${K4[@]}" "${A[@]}" "$order"
  run nomkstream EVALSHA "$nomk" 4 "${K4[@]}" "${A[@]}" "$order"
  run explicit-id EVALSHA "$explicit" 4 "${K4[@]}" "${A[@]}" "$order"
  run bare-n:user XADD "$tag:orders" '*' 1:u__rand_int__ "$order"
  run bare-n XADD "$tag:orders" '*' 1 "$withuser"
  run carried-2k EVALSHA "$carried" 4 "${K4[@]}" "${A[@]}" "$big"
  run n-2k EVALSHA "$take" 4 "${K4[@]}" "${A[@]}" "$big"
  nodes 0 100
  run nodes-0b-100e EVALSHA "$take" 4 "${K4[@]}" "${A[@]}" "$order"
  nodes 65536 1000
  run nodes-64k-1000e EVALSHA "$take" 4 "${K4[@]}" "${A[@]}" "$order"
  nodes 1024 100
  run nodes-1k-100e EVALSHA "$take" 4 "${K4[@]}" "${A[@]}" "$order"
done
median() { { grep . "$1" 2>/dev/null || true; } | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
s=$(median "$tmp/sync.e")
echo "medians of $ROUNDS rounds (redis-benchmark -c $CONNS -P 16 -n $REQUESTS), usec_per_call:"
printf '  %-16s %8s %8s %8s\n' variant EVALSHA "XADD in" "/ sync"
for n in "${names[@]}"; do
  e=$(median "$tmp/$n.e"); x=$(median "$tmp/$n.x")
  printf '  %-16s %8s %8s %8s\n' "$n" "$e" "$x" "$(awk -v e="$e" -v s="$s" 'BEGIN {if (e == "-") print "-"; else printf "%.2fx", e/s}')"
done
