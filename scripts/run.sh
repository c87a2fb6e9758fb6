#!/usr/bin/env bash
# Install everything, then serve Earshot on 127.0.0.1:8000 with the embedded
# default (SQLite, local files, in-process broker) under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/earshot serve --host "${EARSHOT_HOST:-127.0.0.1}" --port "${EARSHOT_PORT:-8000}"
