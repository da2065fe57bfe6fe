#!/usr/bin/env bash
# `npm start`: Kiln's main job until `kiln up` lands — a virtual ESP32 board that any
# esptool can flash, with its flash kept in .kiln/board-esp32.bin between runs.
# Extra arguments go to `kiln board` (e.g. `npm start -- --chip esp32c3`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
mkdir -p .kiln
cat >&2 <<'MSG'
kiln: starting a virtual ESP32 board; it runs until Ctrl+C.
      Flash it with esptool:  .venv/bin/esptool --port <the URL below> flash-id
MSG
exec node cli/bin/kiln.js board --chip esp32 --flash .kiln/board-esp32.bin "$@"
