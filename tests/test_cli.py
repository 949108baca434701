"""The command line: say / sample / models / the app entry, and every bad-input case (exit 2, one line, no file)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from training.bundling import untrained_bundle
from vaesynth.model.bundle import load_bundle, save_bundle

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Untrained cvae (every utterance 0.4 s long) and mlp bundles, with some headline metrics."""
    root = Path(tmp_path_factory.mktemp("models"))
    bundle = load_bundle(untrained_bundle("cvae", root / "cvae"))
    with torch.no_grad():
        bundle.model.valid_head.weight.zero_()
        bias = torch.full_like(bundle.model.valid_head.bias, 5.0)
        bundle.model.valid_head.bias.copy_(bias)
        bundle.model.pos.zero_()
    save_bundle(bundle, root / "cvae")
    cfg = root / "cvae" / "config.json"
    c = json.loads(cfg.read_text())
    c["metrics"] = {"digit_acc": 0.9123, "lsd_db": 3.21}
    cfg.write_text(json.dumps(c))
    untrained_bundle("mlp", root / "mlp", speakers=("alice", "bob"))
    return root


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- say ---------------------------------------------------------------------------------------


def test_say_writes_a_wav_at_the_model_rate(run, models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    code, stdout, err = run("say", "415-555-0123", "-o", str(out), "--model", str(models_dir / "cvae"), "--seed", "1")
    assert code == 0, err
    assert err == []
    assert "wrote" in stdout and "4155550123" in stdout
    info = sf.info(str(out))
    assert info.samplerate == 8000 and info.channels == 1 and info.subtype == "PCM_16"
    wave, _ = sf.read(str(out), dtype="float32")
    assert 10 * 0.3 < len(wave) / 8000 < 10 * 0.9 + 9 * 0.31
    assert 0.5 < np.abs(wave).max() <= 1.0
    assert listing(tmp_path) == ["out.wav"]  # no temp files left
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # the umask decides, not mkstemp


def test_say_is_reproducible_and_resamples(run, models_dir: Path, tmp_path: Path) -> None:
    m = str(models_dir / "cvae")
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    assert run("say", "42", "-o", str(a), "--model", m, "--seed", "7")[0] == 0
    assert run("--model", m, "say", "42", "-o", str(b), "--seed", "7")[0] == 0  # global --model too
    assert a.read_bytes() == b.read_bytes()
    assert run("say", "42", "-o", str(c), "--model", m, "--seed", "7", "--rate", "16000")[0] == 0
    wa, ra = sf.read(str(a))
    wc, rc = sf.read(str(c))
    assert (ra, rc) == (8000, 16000) and abs(len(wc) - 2 * len(wa)) <= 2


def test_say_with_a_voice_and_temperature(run, models_dir: Path, tmp_path: Path) -> None:
    m = str(models_dir / "mlp")
    assert run("say", "7", "-o", str(tmp_path / "v.wav"), "--model", m, "--voice", "bob", "--steady")[0] == 0
    assert run("say", "7", "-o", str(tmp_path / "t.wav"), "--model", m, "--temperature", "0.5")[0] == 0
    assert sf.info(str(tmp_path / "v.wav")).samplerate == 8000


def test_say_plays_through_the_default_device(run, pulse, models_dir: Path) -> None:
    rec = pulse.start_recording()
    code, _, err = run("say", "1", "--model", str(models_dir / "cvae"), "--seed", "0")
    x = rec.stop(tail_s=0.1)
    assert code == 0, err
    assert np.abs(x).max() > 0.1  # something was heard


def test_say_without_an_audio_device_says_so(run, no_audio_env, models_dir: Path) -> None:
    code, _, err = run("say", "1", "--play", "--model", str(models_dir / "cvae"))
    assert code == 1
    assert len(err) == 1 and "No audio output device" in err[0]


# --- bad input: one line on stderr, exit 2, nothing written ------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["say", "12a"], "'a'"),
        (["say", ""], "no digits"),
        (["say", "1" * 100_000], "too many digits"),
        (["say", "12", "--model", "no-such-model"], "not found"),
        (["say", "12", "--model", "/no/such/folder"], "not found"),
        (["say", "12", "-o", "{tmp}/missing-dir/x.wav"], "does not exist"),
        (["say", "12", "-o", "{tmp}"], "is a folder"),
        (["say", "12", "--voice", "nobody"], "unknown voice"),
        (["say", "12", "--rate", "100"], "--rate"),
        (["say", "12", "--temperature", "-1"], "temperature"),
        (["say", "12", "--temperature", "nan"], "temperature"),
        (["say", "12", "--temperature", "1e9"], "temperature"),
        (["say", "12", "--temperature", "1e300"], "temperature"),
        (["say", "12", "--seed", "-3"], "seed"),
        (["say", "12", "-o", ""], "needs a file name"),
        (["say", "12", "--pitch", "13"], "pitch"),
        (["say", "12", "--speed", "3"], "speed"),
        (["say", "12", "--note", "H9"], "not a note"),
        (["say", "12", "--pitch", "2", "--model", "{mlp}"], "need the default model"),
        (["sample", "--per-digit", "1", "--out", "{tmp}/s", "--note", "A3", "--model", "{mlp}"], "default model"),
        (["sample", "--per-digit", "1", "--out", "{tmp}/s", "--seed", "-3"], "seed"),
        (["sample", "--per-digit", "0", "--out", "{tmp}/s"], "--per-digit"),
        (["sample", "--per-digit", "5000", "--out", "{tmp}/s"], "--per-digit"),
        (["sample", "--per-digit", "1", "--out", "{tmp}/file.txt"], "is a file"),
        (["sample", "--per-digit", "1", "--out", "{tmp}/s", "--model", "nope"], "not found"),
        (["sample", "--out", "{tmp}/s"], "--per-digit"),
        (["models", "--dir", "{tmp}/nowhere"], "does not exist"),
        (["speak", "12"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, models_dir: Path, tmp_path: Path, args: list[str], match: str) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)).replace("{mlp}", str(models_dir / "mlp")) for a in args]
    if args[0] in ("say", "sample") and "--model" not in args:
        args += ["--model", str(models_dir / "cvae")]
    if args[0] == "say" and "-o" not in args:
        args += ["-o", str(tmp_path / "out.wav")]
    before = listing(tmp_path)
    t0 = time.perf_counter()
    code, stdout, err = run(*args)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("vaesynth") and "error:" in err[0] and match in err[0]
    assert listing(tmp_path) == before  # nothing written, nothing half-written
    assert time.perf_counter() - t0 < 5.0


def test_long_input_is_rejected_before_any_heavy_work() -> None:
    code = (
        "import sys, time; from vaesynth.cli import main; t = time.perf_counter();"
        "rc = main(['say', '9' * 100000, '-o', '/tmp/never.wav']);"
        "print(rc, 'torch' in sys.modules, time.perf_counter() - t)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    rc, torch_loaded, seconds = res.stdout.split()
    assert rc == "2" and torch_loaded == "False" and float(seconds) < 0.5
    assert res.stderr.strip().count("\n") == 0 and "too many digits" in res.stderr


def test_failed_write_leaves_nothing_behind(run, models_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from vaesynth.sound import wavfile

    real_write = os.write

    def broken_write(fd: int, data) -> int:
        real_write(fd, bytes(data[:12]))  # part of the file reaches the disk, then it is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wavfile.os, "write", broken_write)
    code, _, err = run("say", "12", "-o", str(tmp_path / "x.wav"), "--model", str(models_dir / "cvae"))
    assert code == 2 and len(err) == 1 and "No space left" in err[0]
    assert listing(tmp_path) == []
    code, _, err = run("sample", "--per-digit", "1", "--out", str(tmp_path / "s"), "--model", str(models_dir / "mlp"))
    assert code == 2 and len(err) == 1
    assert listing(tmp_path / "s") == []


def test_say_with_pitch_speed_and_note(run, models_dir: Path, tmp_path: Path) -> None:
    base = ["say", "7", "--model", str(models_dir / "cvae"), "--seed", "3", "--steady"]
    assert run(*base, "-o", str(tmp_path / "a.wav"))[0] == 0
    assert run(*base, "-o", str(tmp_path / "b.wav"), "--speed", "0.5", "--pitch", "+3")[0] == 0
    assert run(*base, "-o", str(tmp_path / "c.wav"), "--note", "A3", "--contour", "0.5")[0] == 0
    a, b = sf.info(str(tmp_path / "a.wav")), sf.info(str(tmp_path / "b.wav"))
    assert b.frames == pytest.approx(2 * a.frames, rel=0.05)


def test_say_streams_a_wav_to_stdout(models_dir: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vaesynth", "say", "12", "--model", str(models_dir / "cvae"), "-o", "-"],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    x, sr = sf.read(io.BytesIO(res.stdout), dtype="float32")
    assert sr == 8000 and len(x) > 0.5 * sr


def test_say_to_a_full_disk_is_one_line(run, models_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from vaesynth.sound import wavfile

    def full(fd: int, data) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wavfile.os, "write", full)
    (tmp_path / "old.wav").write_bytes(b"old")
    code, _, err = run("say", "12", "-o", str(tmp_path / "old.wav"), "--model", str(models_dir / "cvae"))
    assert code == 2 and len(err) == 1 and "No space left" in err[0]
    assert (tmp_path / "old.wav").read_bytes() == b"old" and listing(tmp_path) == ["old.wav"]
    code, _, err = run("sample", "--per-digit", "2", "--out", str(tmp_path / "s"), "--model", str(models_dir / "mlp"))
    assert code == 2 and len(err) == 1 and "No space left" in err[0]
    assert listing(tmp_path / "s") == []


# --- sample and models -------------------------------------------------------------------------


def test_sample_writes_digit_k_wavs(run, models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "samples" / "deep"
    code, stdout, err = run("sample", "--per-digit", "3", "--out", str(out), "--model", str(models_dir / "cvae"))
    assert code == 0, err
    assert listing(out) == sorted(f"{d}_{k}.wav" for d in range(10) for k in range(3))
    for p in out.iterdir():
        info = sf.info(str(p))
        assert info.samplerate == 8000 and info.frames > 0
    again = tmp_path / "again"
    assert run("sample", "--per-digit", "3", "--out", str(again), "--model", str(models_dir / "cvae"))[0] == 0
    assert (again / "4_2.wav").read_bytes() == (out / "4_2.wav").read_bytes()  # seed 0 by default


def test_models_lists_bundles_with_metrics(run, models_dir: Path, tmp_path: Path) -> None:
    code, stdout, err = run("models", "--dir", str(models_dir))
    assert code == 0 and err == []
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "DISPLAY"]
    cvae = next(line for line in lines if line.startswith("cvae"))
    assert "Conditional VAE" in cvae and " 12 " in cvae and "digit_acc=0.912" in cvae and "lsd_db=3.21" in cvae
    mlp = next(line for line in lines if line.startswith("mlp"))
    assert " 16 " in mlp and mlp.rstrip().endswith("-")
    code, stdout, err = run("models", "--dir", str(tmp_path))
    assert code == 0 and "no models found" in err[0]


def test_shipped_models_if_any(run) -> None:
    code, stdout, err = run("models")
    assert code == 0


def test_bench_runs_the_benchmark_script(run, models_dir: Path) -> None:
    code, stdout, err = run("--model", str(models_dir / "cvae"), "bench", "--only", "memory", "--memory", "20")
    assert code == 0, err
    assert "20 renders" in stdout and "RSS" in stdout
    assert run("bench", "--only", "nonsense")[0] == 2


# --- the app entry and the light start --------------------------------------------------------


def test_no_command_starts_the_app(run, monkeypatch) -> None:
    import vaesynth.app

    seen = {}

    def fake_run_app(model, screenshot):
        seen.update(model=model, screenshot=screenshot)
        return 0

    monkeypatch.setattr(vaesynth.app, "run_app", fake_run_app)
    assert run("--model", "mlp", "--screenshot", "/tmp/shot.png")[0] == 0
    assert seen == {"model": "mlp", "screenshot": "/tmp/shot.png"}


def test_missing_app_is_a_clear_message(run, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vaesynth.app", None)
    code, _, err = run()
    assert code == 1 and len(err) == 1 and "desktop app is not available" in err[0]


def test_help_is_light() -> None:
    code = "import sys, runpy; sys.argv = ['main.py', '--help']\ntry:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit as e:\n    print('EXIT', e.code, 'torch' in sys.modules, 'numpy' in sys.modules)"  # noqa: E501
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "usage: vaesynth" in res.stdout and "say" in res.stdout and "sample" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "EXIT 0 False False"
    res = subprocess.run([sys.executable, "main.py", "say", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and "--voice" in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "vaesynth", "models", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0 and "--dir" in res.stdout
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "main.py", "say", "1x"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
