#!/usr/bin/env bash
# Install everything the tests need, then run them. Set EARSHOT_TEST_DATABASE_URL
# and EARSHOT_TEST_REDIS_URL to also run them against PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
exec .venv/bin/pytest "$@"
