#!/usr/bin/env bash
# Makes sure a redis-server binary exists (the tests start private ones, and `make run`
# starts one unless REDIS_URL points elsewhere). Installs Debian's package if missing.
set -euo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0
echo "redis-server not found; installing Debian's redis-server package..." >&2
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
else
  echo "Cannot install redis-server (not root, no sudo). Install it, or set REDIS_URL for make run." >&2
  exit 1
fi
command -v redis-server >/dev/null 2>&1
