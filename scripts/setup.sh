#!/usr/bin/env bash
# Installs what Earshot needs on a fresh Debian/Ubuntu machine, idempotently:
# system packages (ffmpeg; with --test also espeak-ng and sox for making speech in
# tests, pocketsphinx-testdata for its recordings of human speech with transcripts,
# and chromium for the browser tests) and a virtualenv in .venv (pip runs only when
# pyproject.toml changed, so a second run is fast and quiet). With --test it also
# installs tests/node's npm packages (an OpenID Connect provider, axe-core,
# Lighthouse) exactly as its lockfile says, when they changed.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
packages=(ffmpeg)
if [[ "${1:-}" == "--test" ]]; then
  extras="[test]"
  packages+=(espeak-ng sox chromium pocketsphinx-testdata)
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
# pip runs only when pyproject.toml (or the venv's Python) changed since the last install
# with these extras: a stamp in .venv remembers what it was made from. The code itself is
# installed editable, so changing it needs no install.
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $(.venv/bin/python --version)"
stamps=(.venv/.earshot-installed)
[[ -n $extras ]] && stamps=(.venv/.earshot-installed-test "${stamps[@]}")
if [[ ! -f ${stamps[0]} || "$(cat "${stamps[0]}")" != "$wanted" ]]; then
  echo "Installing Python packages into .venv (pip install -e .${extras})"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  for stamp in "${stamps[@]}"; do echo "$wanted" >"$stamp"; done  # [test] includes the base
fi

if [[ "${1:-}" == "--test" ]]; then
  # npm ci only when the lockfile (or Node) changed since the last install: a stamp
  # inside node_modules remembers what it was made from. No install scripts run,
  # so nothing downloads a browser (the tests use Debian's /usr/bin/chromium).
  if ! command -v npm >/dev/null; then
    echo "Please install Node.js 20+ and npm (the tests run tools from tests/node)" >&2
    exit 1
  fi
  stamp=tests/node/node_modules/.earshot-installed
  wanted="$(sha256sum tests/node/package-lock.json | cut -d' ' -f1) node-$(node --version)"
  if [[ ! -f $stamp || "$(cat "$stamp")" != "$wanted" ]]; then
    echo "Installing tests/node packages (npm ci)"
    (cd tests/node && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund \
      --loglevel=error >/dev/null)
    echo "$wanted" >"$stamp"
  fi
fi
