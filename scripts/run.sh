#!/usr/bin/env bash
# Install everything (a second start skips what has not changed), then serve Earshot
# on 127.0.0.1:8000 (EARSHOT_HOST, EARSHOT_PORT) with the embedded default (SQLite,
# local files, in-process broker) under ./data; every EARSHOT_* setting applies.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/earshot serve "$@"
