#!/usr/bin/env bash
# Set up everything vaesynth needs on Debian/Ubuntu, idempotently (a second run takes about a second):
#   1. system packages that are missing (PortAudio, ALSA->PulseAudio plugin, PulseAudio and JACK for the tests,
#      the libraries Qt needs offscreen and on X11/Wayland, Python >= 3.11 with venv if there is none);
#   2. .venv (created if missing or broken);
#   3. torch (CPU build first, see below), then the project in editable mode with the train and dev extras.
#      Skipped while .venv/.vaesynth-setup-stamp matches pyproject.toml.
#
# Run as root or as a user with sudo. Environment knobs:
#   VAESYNTH_SKIP_APT=1       do not touch system packages
#   VAESYNTH_FORCE_PIP=1      redo the pip step even if the stamp matches
#   PYTHON=/path/to/python3   interpreter for a new .venv (default: first python3.13/3.12/3.11/python3 >= 3.11)
#   TORCH_SPEC=torch==2.13.0  torch requirement installed before the project
#   TORCH_INDEX_URL=URL       e.g. https://download.pytorch.org/whl/cpu where PyPI would give a CUDA build
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.vaesynth-setup-stamp"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

log() { printf '[setup] %s\n' "$*" >&2; }

# ---- system packages --------------------------------------------------------------------------------------------

APT_PACKAGES=(
    # audio: PortAudio for sounddevice, libsndfile for soundfile, ALSA's pulse plugin (PortAudio -> PulseAudio)
    libportaudio2 libsndfile1 libasound2-plugins
    # tests: a PulseAudio server with a null sink, and pactl/parec to drive and record it
    pulseaudio pulseaudio-utils
    # tests: a JACK server (dummy driver, user space) whose virtual MIDI ports stand in for a keyboard (tests/test_midi.py)
    jackd2
    # Qt (PySide6 wheels bundle Qt but not these system libraries); enough for offscreen, xcb and wayland
    libegl1 libgl1 libopengl0 libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6 libxkbcommon0
    libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0 libxcb-xinerama0
    libwayland-client0 libwayland-cursor0 libwayland-egl1
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root for: $*  (run as root, install sudo, or set VAESYNTH_SKIP_APT=1 and install it yourself)"
        return 1
    fi
}

is_installed() {  # dpkg -s, also accepting Ubuntu 24.04's t64-renamed libraries (libglib2.0-0 -> libglib2.0-0t64)
    local p
    for p in "$1" "${1}t64"; do
        if dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            return 0
        fi
    done
    return 1
}

APT_UPDATED=0
apt_install() {  # apt_install PKG... : install those not installed yet
    local missing=() p
    for p in "$@"; do
        is_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${missing[@]}"
}

if [ "${VAESYNTH_SKIP_APT:-0}" = 1 ]; then
    log "VAESYNTH_SKIP_APT=1: not checking system packages"
elif ! command -v dpkg >/dev/null 2>&1; then
    log "not a Debian/Ubuntu system (no dpkg): install the equivalents of these yourself: ${APT_PACKAGES[*]}"
else
    apt_install "${APT_PACKAGES[@]}"
fi

# ---- Python and the virtual environment -------------------------------------------------------------------------

venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null &&
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

find_python() {
    local c p
    for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$c" ] || continue
        p="$(command -v "$c" 2>/dev/null)" || continue
        if "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

if ! venv_ok; then
    [ -e "$VENV" ] && log "$VENV is broken or too old; recreating it" && rm -rf "$VENV"
    if ! PY="$(find_python)"; then
        [ "${VAESYNTH_SKIP_APT:-0}" = 1 ] && { log "no Python >= 3.11 found"; exit 1; }
        apt_install python3 python3-venv
        PY="$(find_python)" || { apt_install python3.11 python3.11-venv && PY="$(find_python)"; } || {
            log "no Python >= 3.11 found; install one (e.g. python3.11 python3.11-venv) or set PYTHON"
            exit 1
        }
    fi
    log "creating $VENV with $PY ($("$PY" --version 2>&1))"
    if ! "$PY" -m venv "$VENV" 2>/dev/null || ! venv_ok; then
        # Debian/Ubuntu ship venv's ensurepip separately, as python3.X-venv
        rm -rf "$VENV"
        apt_install "python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
        "$PY" -m venv "$VENV"
    fi
fi

# ---- Python packages --------------------------------------------------------------------------------------------

want_stamp="$(cat pyproject.toml <(printf '%s %s\n' "$TORCH_SPEC" "${TORCH_INDEX_URL:-}") | sha256sum | cut -d' ' -f1)"
if [ "${VAESYNTH_FORCE_PIP:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] &&
    "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("vaesynth")' 2>/dev/null; then
    log "Python environment up to date ($VENV)"
else
    rm -f "$STAMP"
    PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off)
    # torch first and pinned: from plain PyPI a bare `torch` is a multi-GB CUDA build. Where a CPU wheel is
    # on local disk (pip's find-links) or TORCH_INDEX_URL points at a CPU index, this takes the CPU build and
    # the project install below finds its torch requirement already satisfied.
    log "installing $TORCH_SPEC"
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
        "${PIP[@]}" --index-url "$TORCH_INDEX_URL" "$TORCH_SPEC"
    else
        "${PIP[@]}" "$TORCH_SPEC"
    fi
    log "installing vaesynth (editable, extras train,dev)"
    "${PIP[@]}" -e ".[train,dev]"
    echo "$want_stamp" >"$STAMP"
fi
