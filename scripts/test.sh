#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), then lint and run the whole test suite headless.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k harness -x
# The tests start their own PulseAudio server with a null sink (tests/conftest.py); with
# VAESYNTH_REQUIRE_AUDIO=1 a missing audio harness is an error, never a silent skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

export QT_QPA_PLATFORM=offscreen
export VAESYNTH_REQUIRE_AUDIO=1
# The tests that need FSDD find it through the training module's discovery; where this project's
# machines keep a copy next to the checkout, point them at it (elsewhere those tests skip, saying why).
if [ -z "${VAESYNTH_FSDD:-}" ] && [ -d "$ROOT/../shared/fsdd/recordings" ]; then
    export VAESYNTH_FSDD="$ROOT/../shared/fsdd/recordings"
fi

echo "[test] ruff check ." >&2
.venv/bin/ruff check .
echo "[test] pytest $*" >&2
exec .venv/bin/python -m pytest "$@"
