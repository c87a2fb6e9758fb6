#!/usr/bin/env bash
# The lint and type gate (CI runs it before the tests): ruff's rules, ruff's format, mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy app
