#!/usr/bin/env bash
# Installs what Kiln needs on a Debian or Ubuntu machine, and only what is missing:
#   - Debian packages for the firmware host build and its tests (apt-get, as root or via sudo);
#   - npm dependencies (npm ci, when package-lock.json changed since the last install).
# Safe to run again: it does nothing when all is in place. Other systems: it prints
# what to install and stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What each Debian package is for, so that a user on another system can find its equivalent.
declare -A APT_FOR=(
  [build-essential]="C compiler for the firmware host build"
  [cmake]="firmware host build"
  [pkg-config]="finding the C libraries below"
  [libcjson-dev]="JSON in the firmware core (ESP-IDF bundles cJSON too)"
  [libcmocka-dev]="C unit tests"
  [libssl-dev]="ECDSA P-256 and SHA-256 in the firmware host port"
  [libwebsockets-dev]="the WSS client of the firmware host build (kiln-device)"
  [clang]="fuzzing the serial demultiplexer and the message parser"
  [libclang-rt-14-dev]="libFuzzer and the sanitizer runtimes of clang 14 (Debian 12), for that fuzzing"
  [openssl]="test certificates for the firmware integration test; the gateway's development CA"
  [python3]="Espressif's esptool and NVS generator, the tests' independent peers"
  [python3-venv]="a private Python environment for those tools (.venv)"
  [mosquitto]="external-broker and multi-instance gateway tests"
  [mosquitto-clients]="mosquitto_sub, as in the MQTT example kiln up prints"
  [socat]="pty pairs for the serial transport tests"
  [libxml2-utils]="validating JUnit reports against the XSD"
  [libjemalloc2]="the memory allocator the gateway benchmark runs with, as recommended for large fleets (docs/ARCHITECTURE.md)"
  [chromium]="headless browser for the dashboard tests and benchmark (driven by playwright-core)"
)

say() { printf 'kiln setup: %s\n' "$*"; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for pkg in "${!APT_FOR[@]}"; do
  case $pkg in
    # A Python that can make a venv (pyenv, a distro python) is as good as Debian's.
    python3 | python3-venv) python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
  esac
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    say "this is not a Debian/Ubuntu system; install the equivalents of:"
    for pkg in "${missing[@]}"; do say "  $pkg: ${APT_FOR[$pkg]}"; done
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  elif command -v sudo >/dev/null && [ -t 0 ]; then
    say "sudo will ask for your password to install: ${missing[*]}"
    SUDO=(sudo)
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null; then
  say "Node.js 20.19 or newer is needed: sudo apt-get install nodejs npm (Debian 13 / Ubuntu 24.04 have it), or use nodesource"
  exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
  say "Node.js $(node --version) is too old: Kiln needs 20.19 or newer"
  exit 1
}

# Only when the lock file is newer than the last install, so a re-run costs nothing.
# `npm install`, not `npm ci`: npm 11 writes no lock entries for optional packages of
# other platforms that the registry cannot resolve (biome's), and `npm ci` then refuses
# a lock that `npm install` reads fine, pinned versions included.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error
fi

# Espressif's tools in a private venv, reinstalled when requirements-dev.txt changes.
if [ ! -x .venv/bin/esptool ] || [ requirements-dev.txt -nt .venv/.installed ]; then
  say "installing Espressif's Python tools into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  touch .venv/.installed
fi
