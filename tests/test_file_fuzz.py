"""Fuzzing the readers of untrusted files over file kinds and sound-file header values.

Seeded cases cross every reader of a file a user can hand to vaesynth (voices, recipes as JSON and
inside a WAV, bundle configs, settings, takes, training recordings) with file kinds (regular,
empty, garbage, sparse and huge, FIFO, devices that read like /dev/zero and /dev/null, folders,
dangling links and links to all of these) and with WAV headers whose rate, channels, sample width
and declared length are hostile. They run in one child process under a 1 GB address-space limit
and a timeout; the parent asserts that every outcome is a value or one readable line (never a
traceback or a hang), that no FIFO or device was accepted, and that memory stayed bounded.

A new reader of untrusted files gets the same protection by being added to ``READERS`` below.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = 2026
N_HEADER_CASES = 120
RSS_BOUND_MB = 900
KINDS = ["regular", "empty", "garbage", "sparse", "fifo", "zero", "null", "folder", "dangling"]
READERS = ["voice", "recipe_json", "recipe_wav", "bundle_config", "settings", "take", "recording"]

CHILD = r"""
import json, sys, traceback
from pathlib import Path
from vaesynth.voices.keep import KeepError, load_voice, read_recipe
from vaesynth.model.bundle import BundleError, read_config
from vaesynth.voices.voice_in import VoiceInError, load_take
from vaesynth.dsp.spectral import SpectralConfig
from training.data import LoadReport, read_wav
from vaesynth.app.settings import AppSettings, file_settings

def recording(p):
    r = LoadReport()
    w = read_wav(Path(p), SpectralConfig(), r)
    if w is None:
        raise ValueError("; ".join(r.skipped) or "skipped")
    return len(w)

READ = {
    "voice": lambda p: load_voice(Path(p)).name,
    "recipe_json": lambda p: read_recipe(p).text,
    "recipe_wav": lambda p: read_recipe(p).text,
    "bundle_config": lambda p: read_config(Path(p).parent)["name"],
    "settings": lambda p: AppSettings(file_settings(p)).digit,
    "take": lambda p: len(load_take(p)),
    "recording": recording,
}
ERRORS = (KeepError, BundleError, VoiceInError, ValueError)
out = []
for line in open(sys.argv[1]):
    case = json.loads(line)
    try:
        value = READ[case["reader"]](case["path"])
        out.append([case["name"], "ok", str(value)[:80]])
    except ERRORS as e:
        out.append([case["name"], "error", str(e)])
    except BaseException:
        out.append([case["name"], "crash", traceback.format_exc()[-800:]])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(json.dumps({"results": out, "peak_mb": int(hwm[0].split()[1]) / 1024}))
"""


def wav_header(rate: int, channels: int, bits: int, declared_frames: int, actual_frames: int, rng) -> bytes:  # noqa: ANN001
    """A PCM WAV whose header says ``rate``, ``channels``, ``bits`` and ``declared_frames``; it holds ``actual_frames``
    (at most 100,000 samples)."""
    width = max(1, bits // 8)
    actual_frames = min(actual_frames, 100_000 // channels)
    data = rng.integers(-3000, 3000, actual_frames * channels).astype("<i2").tobytes()
    data = data[: actual_frames * channels * width].ljust(actual_frames * channels * width, b"\0")
    size = min(declared_frames * channels * width, 0xFFFFFFFF)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * channels * width) & 0xFFFFFFFF, channels * width, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", min(len(body), 0xFFFFFFFF)) + body


def make_kind(path: Path, kind: str, content: bytes) -> None:
    if kind == "regular":
        path.write_bytes(content)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(bytes(np.random.default_rng(len(str(path))).integers(0, 256, 3000, dtype=np.uint8)))
    elif kind == "sparse":
        with open(path, "wb") as f:
            f.truncate(1 << 30)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind in ("zero", "null"):
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5 if kind == "zero" else 3))
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(path.parent / "nothing-here")


def good_content(reader: str, base: Path) -> bytes:
    from vaesynth.sound.wavfile import wav_bytes
    from vaesynth.voices.keep import RenderRecipe

    recipe = RenderRecipe("12", "cvae", "0123456789abcdef", seed=1)
    t = np.arange(8000) / 8000
    if reader == "voice":
        voice = {"format": "vaesynth-voice", "version": 1, "name": "v", "model": "cvae", "knobs": [0.1] * 8}
        return json.dumps(voice).encode()
    if reader == "recipe_json":
        return recipe.to_json().encode()
    if reader == "recipe_wav":
        return wav_bytes(np.zeros(800), 8000, recipe.to_json())
    if reader == "bundle_config":
        return (base / "config.json").read_bytes()
    if reader == "settings":
        return b"[voice]\ndigit=7\n"
    return wav_bytes(0.5 * np.sin(2 * np.pi * 200 * t) * np.minimum(1, np.minimum(t, 1 - t) / 0.05), 8000)


NAMES = {"voice": "v.json", "recipe_json": "r.json", "recipe_wav": "r.wav", "bundle_config": "config.json",
         "settings": "s.conf", "take": "t.wav", "recording": "9_theo_6.wav"}  # fmt: skip


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from training.bundling import untrained_bundle

    if os.geteuid() != 0:
        pytest.skip("device nodes need root (os.mknod)")
    tmp = Path(tmp_path_factory.mktemp("filefuzz"))
    base = untrained_bundle("mlp", tmp / "base")
    rng = np.random.default_rng(SEED)
    cases, expect_refused = [], set()
    for reader in READERS:
        for kind in KINDS:
            for linked in (False, True):
                name = f"{reader}-{kind}-{'link' if linked else 'direct'}"
                folder = tmp / name
                folder.mkdir()
                path = folder / NAMES[reader]
                target = folder / "target" if linked else path
                make_kind(target, kind, good_content(reader, base))
                if linked:
                    path.symlink_to(target)
                cases.append({"name": name, "reader": reader, "path": str(path)})
                if kind in ("fifo", "zero", "null", "folder"):
                    expect_refused.add(name)
    rates = [0, 1, 7, 100, 3999, 4000, 8000, 44100, 192000, 192001, 2**31 - 1]
    for i in range(N_HEADER_CASES):
        reader = ("take", "recording", "recipe_wav")[i % 3]
        rate, channels = int(rng.choice(rates)), int(rng.choice([1, 2, 8, 9, 255, 1024]))
        bits = int(rng.choice([8, 16, 24, 32]))
        actual = int(rng.choice([0, 10, 4000, 20000]))
        declared = int(rng.choice([actual, actual * 1000, 2**31]))
        folder = tmp / f"header{i:03d}"
        folder.mkdir()
        path = folder / NAMES[reader]
        path.write_bytes(wav_header(rate, channels, bits, declared, actual, rng))
        cases.append({"name": f"header{i:03d}-{reader}-{rate}Hz-{channels}ch-{bits}bit-{declared}", "reader": reader,
                      "path": str(path)})  # fmt: skip
    listing = tmp / "cases.jsonl"
    listing.write_text("".join(json.dumps(c) + "\n" for c in cases))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp / "cfg")}
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(listing)], capture_output=True, text=True, timeout=300, cwd=ROOT,
        preexec_fn=_limit, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["n_cases"], out["expect_refused"] = len(cases), expect_refused
    return out


def test_every_file_kind_and_header_is_a_value_or_one_line(fuzz_results: dict) -> None:
    results = fuzz_results["results"]
    assert len(results) == fuzz_results["n_cases"]
    crashes = [r for r in results if r[1] == "crash"]
    assert not crashes, crashes[:3]
    for name, outcome, message in results:
        if outcome == "error":
            assert "\n" not in message and 0 < len(message) < 400, (name, message)


def test_no_fifo_device_or_folder_is_accepted(fuzz_results: dict) -> None:
    accepted = [r for r in fuzz_results["results"] if r[0] in fuzz_results["expect_refused"] and r[1] == "ok"]
    settings = [r for r in accepted if r[0].startswith("settings-")]
    assert all(r[2] == "5" for r in settings), settings  # settings: the file is ignored, the defaults load
    assert [r for r in accepted if not r[0].startswith("settings-")] == []


def test_the_good_files_are_read(fuzz_results: dict) -> None:
    good = {r[0]: r for r in fuzz_results["results"] if "-regular-" in r[0]}
    assert len(good) == 2 * len(READERS)
    assert all(r[1] == "ok" for r in good.values()), [r for r in good.values() if r[1] != "ok"]


def test_hostile_headers_stay_within_the_memory_bound(fuzz_results: dict) -> None:
    headers = [r for r in fuzz_results["results"] if r[0].startswith("header")]
    assert len(headers) == N_HEADER_CASES
    assert fuzz_results["peak_mb"] < RSS_BOUND_MB, fuzz_results["peak_mb"]
    outcomes = [r[1] for r in fuzz_results["results"]]
    print(f"file fuzz: {len(outcomes)} cases, {outcomes.count('ok')} read, {outcomes.count('error')} refused "
          f"with one line, {outcomes.count('crash')} tracebacks; peak {fuzz_results['peak_mb']:.0f} MB")  # fmt: skip
