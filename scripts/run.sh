#!/usr/bin/env bash
# `make run`: Redis (a private redis-server unless REDIS_URL is set), WORKERS training
# workers (default 1) and the API under gunicorn on HOST:PORT (default 127.0.0.1:8000).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log var/artifacts
export ARTIFACT_ROOT="${ARTIFACT_ROOT:-var/artifacts}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

redis_answers() {
  "$BIN/python" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()" "$1" 2>/dev/null
}

if [ -z "${REDIS_URL:-}" ]; then
  port="${REDIS_PORT:-6380}"
  export REDIS_URL="redis://127.0.0.1:${port}/0"
  if redis_answers "$REDIS_URL"; then
    echo "Using the Redis already answering on port ${port}."
  else
    mkdir -p var/redis
    # Append-only persistence: queued and finished jobs survive a Redis restart.
    scripts/redis.sh "$port" "$PWD/var/redis" "$PWD/var/log/redis.log" &
    pids+=($!)
    for _ in $(seq 50); do redis_answers "$REDIS_URL" && break; sleep 0.1; done
    redis_answers "$REDIS_URL" || { echo "redis-server did not start; see var/log/redis.log" >&2; exit 1; }
    echo "Started a private redis-server on port ${port} (data in var/redis)."
  fi
fi

# TensorFlow and BLAS size their thread pools to every core; N workers each doing so
# fight over the same cores. Each worker gets its share unless these are already set
# (bench/README.md, "Training jobs", has the measurements). Exported in the worker's
# subshell only: gunicorn sets its own (service/gunicorn_conf.py).
worker_threads() {
  local share=$(($(nproc) / ${WORKERS:-1})) name
  [ "$share" -ge 1 ] || share=1
  for name in TF_NUM_INTRAOP_THREADS TF_NUM_INTEROP_THREADS OMP_NUM_THREADS OPENBLAS_NUM_THREADS; do
    export "$name=${!name:-$share}"
  done
}

# One worker, started again whenever it exits: it leaves on purpose after
# WORKER_MAX_JOBS jobs, to give back what its process has accumulated. After a crash it
# waits a little, so a broken configuration does not spin. TERM stops the worker (RQ's
# warm shutdown: the current job finishes) and then the loop.
keep_worker() {
  local child
  trap '[ -n "${child:-}" ] && kill "$child" 2>/dev/null; wait; exit 0' TERM
  worker_threads
  while true; do
    "$BIN/python" -m worker.main >>var/log/worker.log 2>&1 &
    child=$!
    wait "$child" || sleep 5
  done
}

for _ in $(seq "${WORKERS:-1}"); do
  keep_worker &
  pids+=($!)
done
echo "Started ${WORKERS:-1} worker(s) (log: var/log/worker.log; restarted when they exit)."
# RQ's scheduler: puts delayed retries (webhook deliveries) back on the queues.
"$BIN/python" -m worker.scheduler >>var/log/worker.log 2>&1 &
pids+=($!)

# The API behind nginx (FRONT=nginx, the default): nginx reads each request whole before
# gunicorn sees it, so clients that trickle their bodies cannot take gunicorn's threads
# (bench/README.md, "Slow bodies"). FRONT=none serves gunicorn on HOST:PORT directly.
host="${HOST:-127.0.0.1}" port="${PORT:-8000}"
if [ "${FRONT:-nginx}" = "nginx" ]; then
  api_port="${API_PORT:-$((port + 1))}"
  scripts/front.sh "$host:$port" "127.0.0.1:$api_port" var/front "${MAX_BODY_BYTES:-33554432}" \
    2>>var/log/front.log &
  pids+=($!)
  echo "nginx front on $host:$port (log: var/log/front.log) -> gunicorn on 127.0.0.1:$api_port."
  HOST=127.0.0.1 PORT="$api_port" "$BIN/gunicorn" --config python:service.gunicorn_conf \
    service.wsgi:app &
else
  "$BIN/gunicorn" --config python:service.gunicorn_conf service.wsgi:app &
fi
pids+=($!)
echo "API on http://$host:$port (Ctrl-C stops everything)."
wait -n
