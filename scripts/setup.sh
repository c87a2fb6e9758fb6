#!/usr/bin/env bash
# Installs what Earshot needs on a fresh Debian/Ubuntu machine, idempotently:
# system packages (ffmpeg; with --test also espeak-ng and sox for making speech in
# tests, pocketsphinx-testdata for its recordings of human speech with transcripts,
# chromium for the browser tests, and npm for axe-core, which checks the web client's
# accessibility in them) and a virtualenv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
packages=(ffmpeg)
if [[ "${1:-}" == "--test" ]]; then
  extras="[test]"
  packages+=(espeak-ng sox chromium pocketsphinx-testdata)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "Please install: ${missing[*]} (apt-get not found)" >&2
    exit 1
  fi
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
if [[ "${1:-}" == "--test" && ! -f tests/web/node_modules/axe-core/axe.min.js ]]; then
  npm install --silent --no-audit --no-fund --prefix tests/web axe-core@4.10.3 >/dev/null
fi
