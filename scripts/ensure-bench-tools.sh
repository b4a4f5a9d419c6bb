#!/usr/bin/env bash
# Makes sure the tools `make bench` drives are on PATH: wrk, nginx,
# redis-server, redis-cli and redis-benchmark, installing Debian's
# packages when run as root. The harness starts its own private servers on
# free loopback ports; it uses none of the packages' system services.
set -euo pipefail
missing=()
for t in wrk nginx redis-server redis-cli redis-benchmark; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=()
for t in "${missing[@]}"; do
  case $t in
    wrk) pkgs+=(wrk) ;;
    nginx) pkgs+=(nginx-light) ;;
    redis-server) pkgs+=(redis-server) ;;
    redis-cli|redis-benchmark) pkgs+=(redis-tools) ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "missing: ${missing[*]}. Install with: sudo apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
echo "installing ${pkgs[*]} from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
for t in "${missing[@]}"; do command -v "$t" >/dev/null; done
