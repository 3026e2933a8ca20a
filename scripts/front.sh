#!/usr/bin/env bash
# Usage: scripts/front.sh FRONT_ADDRESS API_ADDRESS DIR [MAX_BODY_BYTES] [READ_TIMEOUT]
# nginx in the foreground, buffering requests for the API (deploy/nginx/), listening
# on FRONT_ADDRESS (host:port) and passing whole requests to gunicorn on API_ADDRESS.
# Its configuration, pid file and temporary files go in DIR. `make run` starts it in
# front of the API; tests/integration/test_front.py and bench/slow_bodies.py too.
set -euo pipefail
cd "$(dirname "$0")/.."
export FRONT_ADDRESS="$1" API_ADDRESS="$2" FRONT_DIR
FRONT_DIR="$(mkdir -p "$3" && cd "$3" && pwd)"
max_body="${4:-33554432}"
# A little over the API's limit: the API answers 413 itself, naming the setting.
export FRONT_MAX_BODY="$((max_body + 65536))"
export FRONT_READ_TIMEOUT="${5:-10s}"
mkdir -p "$FRONT_DIR"/{body,proxy,fastcgi,uwsgi,scgi}
# Only our variables are replaced: nginx's own ($http_host, ...) stay as they are.
sed -e "s|\${FRONT_ADDRESS}|$FRONT_ADDRESS|g" -e "s|\${API_ADDRESS}|$API_ADDRESS|g" \
  -e "s|\${FRONT_DIR}|$FRONT_DIR|g" -e "s|\${FRONT_MAX_BODY}|$FRONT_MAX_BODY|g" \
  -e "s|\${FRONT_READ_TIMEOUT}|$FRONT_READ_TIMEOUT|g" \
  deploy/nginx/nginx.conf.template >"$FRONT_DIR/nginx.conf"
# Started as root, nginx would run its workers as `nobody`, who cannot write DIR.
user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
exec nginx -p "$FRONT_DIR" -c "$FRONT_DIR/nginx.conf" ${user:+-g "$user"}
