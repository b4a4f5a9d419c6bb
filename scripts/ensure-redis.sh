#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are on PATH, installing Debian's
# redis-server package when run as root. The integration tests start their
# own servers on free loopback ports; nothing is left running.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "redis-server is missing. Install it with: sudo apt-get install -y redis-server" >&2
  exit 1
fi
echo "installing redis-server from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
# The package starts a system service on 6379; the tests do not use it.
command -v redis-server >/dev/null
