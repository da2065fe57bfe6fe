#!/usr/bin/env bash
# `npm start`: Kiln's main job. Sets up what is missing, builds the firmware host build
# (incremental: a second or two when nothing changed), then runs `kiln up`: the gateway
# and 3 virtual ESP32 boards, flashed, provisioned and online, with a live table, until
# Ctrl+C. State is kept in .kiln/up/ between runs.
# Extra arguments go to `kiln up` (e.g. `npm start -- --boards 5`, `npm start -- --until-online`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build-firmware-host.sh >&2
exec node cli/bin/kiln.js up "$@"
