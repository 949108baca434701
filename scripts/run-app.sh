#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), then launch the vaesynth desktop app.
# Extra arguments go to the app, e.g.  bash scripts/run-app.sh --help
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

exec .venv/bin/python main.py "$@"
