#!/usr/bin/env bash
# Usage: scripts/redis.sh PORT DATA_DIR LOG_FILE
# The private redis-server `make run` starts (scripts/run.sh), in the foreground: on
# 127.0.0.1 only, with append-only persistence (fsync every second, no snapshots), so
# queued and finished jobs survive a restart. tests/integration/test_faults.py restarts
# one started this way and checks that they do.
set -euo pipefail
exec redis-server --bind 127.0.0.1 --port "$1" --dir "$2" \
  --appendonly yes --appendfsync everysec --save "" --logfile "$3"
