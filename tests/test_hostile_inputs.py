"""Hostile and careless inputs: devices, FIFOs and links where files belong, headers that lie, options
that would be ignored, writes that would harm what a path links to.

Every severe case (S0-S6) and moderate case (M1-M13) of the hostile-input probe has a test here.
Reads that used to run forever (a device, a FIFO) run in a child process under a 1 GB address-space
limit and a 20 s timeout, so that a regression fails the test instead of the machine. Device nodes
are made in a temporary folder (``os.mknod``; the tests run as root): ``c 1 5`` reads like /dev/zero.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_training import isolated_cache, write_fake_fsdd  # noqa: F401 - fixture reused

from training.bundling import untrained_bundle
from vaesynth.voices.keep import KeepError, RenderRecipe, read_recipe, weights_fingerprint, write_wav_with_recipe

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 1 << 30
TIMEOUT_S = 20
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root (os.mknod)")


class Blocked(Exception):  # noqa: N818 - not an OSError: a blocked write must not pass for a refused one
    """Raised by the alarm of :func:`_no_hang`."""


@pytest.fixture(autouse=True)
def _no_hang():  # noqa: ANN202
    """An in-process write or read that blocks (a FIFO without a reader) fails the test after 90 s instead."""

    def stop(*_: object) -> None:
        raise Blocked("blocked for 90 s (a FIFO or device was opened)")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(90)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def zero_device(folder: Path, name: str = "zero") -> Path:
    """A character device in ``folder`` that reads like /dev/zero (major 1, minor 5)."""
    path = folder / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    return path


def null_device(folder: Path, name: str = "null") -> Path:
    path = folder / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def limited(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python under 1 GB of address space and a 20 s timeout (a hang fails)."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, cwd=ROOT,
            timeout=TIMEOUT_S, preexec_fn=_limit, env={**os.environ, **(env or {})},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {TIMEOUT_S} s (a read that never ends)")


def limited_cli(*argv: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, "-m", "vaesynth", *argv], capture_output=True, text=True, cwd=cwd,
            timeout=60, preexec_fn=_limit, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the command hung")


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    return lines[0]


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: its kind, and a regular file's bytes (what 'nothing changed' compares)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        out[str(p.relative_to(folder))] = (
            stat.S_IFMT(st.st_mode), os.readlink(p) if p.is_symlink() else None,
            p.read_bytes() if stat.S_ISREG(st.st_mode) else None,
        )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def cvae(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_bundle("cvae", Path(tmp_path_factory.mktemp("m")) / "cvae", speakers=("george", "bob"))


@pytest.fixture
def voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "voices"
    monkeypatch.setenv("VAESYNTH_VOICES", str(folder))
    return folder


def voice_json(name: str = "mine", model: str = "cvae", knobs: int = 32) -> str:
    return json.dumps({"format": "vaesynth-voice", "version": 1, "name": name, "model": model,
                       "knobs": [0.1] * knobs, "temperature": 1.0})  # fmt: skip


# --- S0: saving never writes through a link to a device -------------------------------------------


@ROOT_ONLY
def test_s0_saving_settings_keeps_a_linked_device_a_device(tmp_path: Path) -> None:
    from vaesynth.app.settings import file_settings

    fake = null_device(tmp_path, "fake")
    conf = tmp_path / "vaesynth.conf"
    conf.symlink_to(fake)
    s = file_settings(conf)
    s.setValue("voice/digit", "3")
    s.sync()
    del s
    assert stat.S_ISCHR(os.lstat(fake).st_mode), "the device was replaced by a settings file"
    assert conf.is_symlink() and os.readlink(conf) == str(fake)


@ROOT_ONLY
def test_s0_a_window_closed_on_linked_settings_keeps_the_device(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Open and close the main window (settings are saved on close) with the settings file linked to a device."""
    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.settings import file_settings

    fake = null_device(tmp_path, "fake")
    conf = tmp_path / "vaesynth.conf"
    conf.symlink_to(fake)
    models = tmp_path / "models"
    untrained_bundle("mlp", models / "mlp")
    w = MainWindow(file_settings(conf), models_root=models)
    qtbot.addWidget(w)
    w.show()
    w.close()
    w.shutdown()
    assert stat.S_ISCHR(os.lstat(fake).st_mode) and conf.is_symlink()


@ROOT_ONLY
@pytest.mark.parametrize("writer", ["wav", "voice", "bundle config", "bundle weights", "feature cache", "settings"])
@pytest.mark.parametrize("node", ["device", "fifo"])
def test_s0_every_writer_refuses_a_link_to_a_device_or_fifo(writer: str, node: str, tmp_path: Path) -> None:
    """One rule for every writer: a link to something other than a regular file is never written through."""
    victim = null_device(tmp_path, "victim") if node == "device" else tmp_path / "victim"
    if node == "fifo":
        os.mkfifo(victim)
    folder = tmp_path / "out"
    folder.mkdir()
    names = {"wav": "x.wav", "voice": "mine.json", "bundle config": "config.json",
             "bundle weights": "weights.safetensors", "feature cache": "f.npz", "settings": "s.conf"}  # fmt: skip
    link = folder / names[writer]
    link.symlink_to(victim)
    refused = None
    try:
        if writer == "wav":
            from vaesynth.sound.wavfile import write_wav

            write_wav(link, np.zeros(800), 8000)
        elif writer == "voice":
            from vaesynth.voices.keep import SavedVoice, save_voice

            save_voice(SavedVoice("mine", "cvae", (0.1, 0.2)), folder)
        elif writer in ("bundle config", "bundle weights"):
            from vaesynth.model.bundle import load_bundle, save_bundle

            b = load_bundle(untrained_bundle("mlp", tmp_path / "b"))
            save_bundle(b, folder)
        elif writer == "feature cache":
            from vaesynth.sound.safeio import atomic_write

            atomic_write(link, lambda tmp: np.savez(open(tmp, "wb"), a=np.zeros(3)))  # noqa: SIM115
        else:  # in a child: Qt's own reader would block in C++ on a FIFO, out of reach of any alarm
            res = limited(
                "import sys; from vaesynth.app.settings import file_settings\n"
                "s = file_settings(sys.argv[1]); s.setValue('voice/digit', '3'); s.sync()",
                str(link),
                env={"QT_QPA_PLATFORM": "offscreen"},
            )
            assert res.returncode == 0, res.stderr[-2000:]
            refused = one_line(res.stderr)  # one log line, and the app goes on
    except (OSError, KeepError) as e:
        refused = str(e)
    assert refused, "the write went through"
    assert link.is_symlink() and os.readlink(link) == str(victim)
    mode = os.lstat(victim).st_mode
    assert stat.S_ISCHR(mode) if node == "device" else stat.S_ISFIFO(mode)


@ROOT_ONLY
def test_s0_checkpoints_are_never_written_through_a_link_to_a_device(tmp_path, isolated_cache) -> None:  # noqa: ANN001, F811
    from training.config import ConfigError
    from training.fit import fit

    victim = null_device(tmp_path, "victim")
    ckpts = tmp_path / "runs" / "mlp" / "checkpoints"
    ckpts.mkdir(parents=True)
    (ckpts / "last.ckpt").symlink_to(victim)
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    with pytest.raises(ConfigError, match="link to a device"):
        fit("mlp", data=data, epochs=1, out=tmp_path / "b", run_dir=tmp_path / "runs" / "mlp", progress=False)
    assert stat.S_ISCHR(os.lstat(victim).st_mode) and (ckpts / "last.ckpt").is_symlink()
    assert not (tmp_path / "b").exists()


# --- S1, S2: devices and FIFOs are refused before they are opened ---------------------------------


@ROOT_ONLY
@pytest.mark.parametrize("kind", ["device link", "fifo"])
def test_s1_s2_voice_recipe_bundle_and_settings_readers_refuse_devices_and_fifos(kind: str, tmp_path: Path) -> None:
    def hostile(name: str) -> Path:
        p = tmp_path / name
        if kind == "fifo":
            os.mkfifo(p)
        else:
            p.symlink_to(zero_device(tmp_path, f"zero-{name}"))
        return p

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    paths = [hostile("v.json"), hostile("r.json"), hostile("r.wav"), bundle, hostile("s.conf")]
    (bundle / "config.json").symlink_to(hostile("config"))
    res = limited(
        """
        import sys
        from pathlib import Path
        from vaesynth.voices.keep import KeepError, load_voice, read_recipe
        from vaesynth.model.bundle import BundleError, read_config
        v, rj, rw, b, s = sys.argv[1:]
        for f, arg, err in ((load_voice, Path(v), KeepError), (read_recipe, rj, KeepError),
                            (read_recipe, rw, KeepError), (read_config, b, BundleError)):
            try:
                f(arg)
                print("accepted", arg)
            except err as e:
                print("refused:", e)
        from vaesynth.app.settings import AppSettings, file_settings
        print("settings digit", AppSettings(file_settings(s)).digit)
        """,
        *map(str, paths),
        env={"QT_QPA_PLATFORM": "offscreen"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    assert len(lines) == 5 and all(line.startswith("refused:") for line in lines[:4]), res.stdout
    assert all(("FIFO" in line or "device" in line) for line in lines[:4]), res.stdout
    assert lines[4] == "settings digit 5"


@ROOT_ONLY
def test_s1_s2_the_voices_listing_and_say_skip_hostile_voice_files(cvae: Path, tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "good.json").write_text(voice_json("good", str(cvae)))
    os.mkfifo(voices / "pipe.json")
    (voices / "zero.json").symlink_to(zero_device(tmp_path))
    env = {"VAESYNTH_VOICES": str(voices)}
    res = limited_cli("voices", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("good") and len(res.stdout.splitlines()) == 1
    res = limited_cli("say", "1", "--voice", "zero", "-o", str(tmp_path / "x.wav"), env=env)
    assert res.returncode == 2 and "zero" in one_line(res.stderr)
    assert not (tmp_path / "x.wav").exists()


@ROOT_ONLY
def test_s1_s2_voice_file_is_read_once_and_refused_if_not_a_file(tmp_path: Path) -> None:
    link = tmp_path / "v.json"
    link.symlink_to(zero_device(tmp_path))
    res = limited_cli("say", "12", "--voice-file", str(link), "-o", str(tmp_path / "x.wav"))
    assert res.returncode == 2 and "device" in one_line(res.stderr)
    os.mkfifo(tmp_path / "f.json")
    res = limited_cli("say", "12", "--recipe", str(tmp_path / "f.json"), "-o", str(tmp_path / "x.wav"))
    assert res.returncode == 2 and "FIFO" in one_line(res.stderr)


def test_s1_the_bounded_reader_reads_at_most_the_limit_of_a_sparse_file(tmp_path: Path) -> None:
    from vaesynth.sound.safeio import TooLargeError, read_bounded

    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # 1 GB, sparse
    res = limited(
        "import sys; from vaesynth.sound.safeio import read_bounded\n"
        "try:\n    read_bounded(sys.argv[1], 1 << 16)\nexcept OSError as e:\n    print(e)",
        str(big),
    )
    assert res.returncode == 0 and "too large" in res.stdout, res.stderr[-1000:]
    with pytest.raises(TooLargeError):
        read_bounded(big, 10)


# --- S3, S4: headers are checked before decoding -------------------------------------------------


def one_hz_wav(path: Path, seconds_of_data: int = 50_000) -> Path:
    """A small WAV whose header says 1 Hz: 50,000 samples are 14 hours, 400 M samples at 8 kHz."""
    sf.write(path, (0.5 * np.sin(np.arange(seconds_of_data) * 0.3)).astype(np.float32), 1, subtype="PCM_16")
    return path


def test_s3_a_take_whose_header_says_1_hz_is_refused_before_decoding(tmp_path: Path) -> None:
    take = one_hz_wav(tmp_path / "t.wav")
    res = limited(
        """
        import sys
        from vaesynth.voices.voice_in import VoiceInError, load_take
        try:
            load_take(sys.argv[1])
            print("accepted")
        except VoiceInError as e:
            print("refused:", e)
        """,
        str(take),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("refused:") and "1 Hz" in res.stdout


def test_s3_a_long_many_channel_take_is_refused_by_its_header(tmp_path: Path) -> None:
    from vaesynth.voices.voice_in import VoiceInError, load_take

    take = tmp_path / "long.flac"
    sf.write(take, np.zeros((192000 * 7, 8), dtype=np.int16), 192000, subtype="PCM_16", format="FLAC")
    with pytest.raises(VoiceInError, match="too long"):
        load_take(take)


def test_s3_say_voice_from_a_lying_take_is_one_line(cvae: Path, tmp_path: Path) -> None:
    take = one_hz_wav(tmp_path / "t.wav")
    before = snapshot(tmp_path)
    res = limited_cli("say", "5", "--voice-from", str(take), "--model", str(cvae), "-o", str(tmp_path / "x.wav"))
    assert res.returncode == 2 and "1 Hz" in one_line(res.stderr)
    assert snapshot(tmp_path) == before


@ROOT_ONLY
def test_s4_training_data_skips_devices_fifos_and_lying_headers(tmp_path: Path) -> None:
    folder = write_fake_fsdd(tmp_path / "rec", takes=6)
    (folder / "9_theo_6.wav").symlink_to(zero_device(tmp_path))
    os.mkfifo(folder / "9_theo_7.wav")
    one_hz_wav(folder / "9_theo_8.wav")
    res = limited(
        """
        import json, sys
        from training.data import load_dataset
        from vaesynth.dsp.spectral import SpectralConfig
        ds = load_dataset(sys.argv[1], SpectralConfig(), cache=False)
        print(json.dumps({"loaded": ds.report.loaded, "skipped": dict(ds.report.skipped)}))
        """,
        str(folder),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.splitlines()[-1])
    assert report["loaded"] == 120
    assert report["skipped"] == {
        "not a regular file (a device)": 1, "not a regular file (a FIFO)": 1,
        "outside the limits (its sample rate)": 1,
    }  # fmt: skip


# --- S5: training keeps a working bundle when the new one does not load -------------------------


def test_s5_a_fit_that_cannot_make_a_bundle_leaves_the_existing_one(tmp_path: Path, isolated_cache, capsys) -> None:  # noqa: ANN001, F811
    """The reproduction: one recording, --out an existing bundle. It fails before training, with one line."""
    from training.__main__ import main as train_main

    data = tmp_path / "one"
    data.mkdir()
    sf.write(data / "3_ann_7.wav", np.sin(np.arange(4000) * 0.2).astype(np.float32) * 0.5, 8000)
    out = untrained_bundle("cvae", tmp_path / "bundle")
    before = snapshot(tmp_path / "bundle")
    code = train_main(["fit", "--model", "cvae", "--epochs", "1", "--data", str(data), "--out", str(out),
                       "--runs-dir", str(tmp_path / "runs"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "lack digits" in one_line(err)
    assert snapshot(tmp_path / "bundle") == before


def test_s5_a_trained_bundle_that_does_not_load_is_never_swapped_in(tmp_path, isolated_cache, monkeypatch) -> None:  # noqa: ANN001, F811
    """Training writes the new bundle beside the old one and loads it; when that fails, the old one stays."""
    import training.fit
    from training.config import TrainingError
    from vaesynth.model.bundle import BundleError

    def refuse(folder):  # noqa: ANN001, ANN202
        raise BundleError(f"{folder}: the stored training posteriors lack digits [1]")

    monkeypatch.setattr(training.fit, "load_bundle", refuse)
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    out = untrained_bundle("mlp", tmp_path / "bundle")
    before = snapshot(out)
    with pytest.raises(TrainingError, match="left as it was"):
        training.fit.fit("mlp", data=data, epochs=1, out=out, run_dir=tmp_path / "runs" / "mlp", progress=False)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "cache", "rec", "runs"]  # no staged copy left


def test_s5_a_good_fit_is_swapped_in_and_carries_other_files(tmp_path: Path, isolated_cache) -> None:  # noqa: ANN001, F811
    from training.fit import fit
    from vaesynth.model.bundle import load_bundle

    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    out = untrained_bundle("mlp", tmp_path / "bundle")
    (out / "NOTES.txt").write_text("mine")
    old = (out / "weights.safetensors").read_bytes()
    fit("mlp", data=data, epochs=1, out=out, run_dir=tmp_path / "runs" / "mlp", progress=False)
    assert (out / "weights.safetensors").read_bytes() != old
    assert (out / "NOTES.txt").read_text() == "mine"
    load_bundle(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "cache", "rec", "runs"]


# --- S6: a bundle's cost is bounded before it is built -------------------------------------------


def test_s6_an_expensive_bundle_is_refused_before_it_is_built(tmp_path: Path) -> None:
    from vaesynth.model.bundle import BundleError, load_bundle

    b = untrained_bundle("cnn", tmp_path / "cnn", params={"channels": 4})
    config = json.loads((b / "config.json").read_text())
    config["spectral"].update(n_fft=4096, hop=1, max_frames=4096)  # 25.6 M weights: within the weight bound
    (b / "config.json").write_text(json.dumps(config))
    res = limited(
        "import sys\nfrom vaesynth.model.bundle import BundleError, load_bundle\n"
        "try:\n    load_bundle(sys.argv[1]); print('accepted')\nexcept BundleError as e:\n    print('refused:', e)",
        str(b),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("refused:") and "too costly" in res.stdout
    with pytest.raises(BundleError, match="too costly"):
        load_bundle(b)


def test_s6_the_shipped_bundles_are_well_within_the_cost_limits() -> None:
    from vaesynth.model.bundle import load_bundle
    from vaesynth.model.models import MAX_ACTIVATIONS, MAX_CELLS, MAX_FRAME_RATE, MAX_OVERLAP

    for name in ("cvae", "cnn", "mlp"):
        b = load_bundle(ROOT / "resources" / "models" / name)
        c = b.spectral
        assert c.max_frames * c.n_bins * 10 <= MAX_CELLS
        assert c.n_fft / c.hop * 2 <= MAX_OVERLAP and c.sample_rate / c.hop * 10 <= MAX_FRAME_RATE
        assert c.max_frames * c.n_bins * b.meta["params"].get("channels", 1) * 10 <= MAX_ACTIVATIONS


# --- moderate: the command line --------------------------------------------------------------------


@pytest.mark.parametrize("note", ["20000", "1e308", "99999", "-1e308"])
def test_m1_a_huge_note_is_one_line(run, note: str, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run("say", "1", "--note", note, "-o", str(tmp_path / "x.wav"))
    assert code == 2 and len(err) == 1 and "note" in err[0]


def test_m2_a_too_long_file_name_is_one_line(run, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run("say", "1", "-o", str(tmp_path / ("x" * 256 + ".wav")))
    assert code == 2 and len(err) == 1 and "too long" in err[0].lower()


def test_m3_a_closed_stdout_is_one_line(cvae: Path) -> None:
    res = subprocess.run(
        f"{sys.executable} -m vaesynth say 1 --model {cvae} -o - >&-", shell=True, capture_output=True, text=True,
        cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert res.returncode == 2 and "standard output" in one_line(res.stderr)


@pytest.mark.parametrize("bad", ["../bad", "x.json", "fine\n", "george"])
def test_m4_m6_a_voice_that_cannot_be_saved_changes_nothing(run, cvae: Path, voices: Path, tmp_path: Path, bad) -> None:  # noqa: ANN001
    keep = tmp_path / "keep.wav"
    keep.write_bytes(b"old")
    code, _, err = run("say", "1", "--model", str(cvae), "--save-voice", bad, "-o", str(keep))
    assert code == 2 and len(err) == 1, err
    assert keep.read_bytes() == b"old"
    assert not voices.exists() or list(voices.iterdir()) == []


def test_m4_an_unwritable_voices_folder_changes_nothing(run, cvae: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("VAESYNTH_VOICES", str(tmp_path / "file" / "voices"))
    keep = tmp_path / "keep.wav"
    keep.write_bytes(b"old")
    code, _, err = run("say", "1", "--model", str(cvae), "--save-voice", "mine", "-o", str(keep))
    assert code == 2 and len(err) == 1
    assert keep.read_bytes() == b"old"


def test_m4_a_failed_wav_puts_the_old_voice_back(run, cvae, voices: Path, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from vaesynth.cli.common import UsageError

    voices.mkdir()
    (voices / "mine.json").write_text(voice_json("mine", str(cvae)))
    before = (voices / "mine.json").read_bytes()

    def full_disk(*_a, **_k) -> None:  # noqa: ANN002, ANN003
        raise UsageError("cannot write x.wav: No space left on device")

    monkeypatch.setattr("vaesynth.cli.commands.write_output", full_disk)
    code, _, err = run("say", "1", "--model", str(cvae), "--save-voice", "mine", "-o", str(tmp_path / "x.wav"))
    assert code == 2 and "No space" in err[0]
    assert (voices / "mine.json").read_bytes() == before


def test_m5_rename_takes_names_not_paths(run, voices: Path, tmp_path: Path) -> None:  # noqa: ANN001
    outside = tmp_path / "secret.json"
    outside.write_text(voice_json("secret"))
    code, _, err = run("voices", "--rename", str(outside), "stolen")
    assert code == 2 and len(err) == 1
    assert not (voices / "stolen.json").exists() and outside.exists()


def test_m6_the_listing_shows_bad_entries_and_goes_on(run, voices: Path) -> None:  # noqa: ANN001
    voices.mkdir()
    (voices / "a.json").write_text("{ corrupt")
    (voices / "b.json").mkdir()
    (voices / "c.json").write_text(voice_json("c"))
    code, out, err = run("voices")
    assert code == 0 and err == []
    lines = out.splitlines()
    assert lines[0].startswith("a  (unreadable") and lines[1].startswith("c  (model cvae")
    assert len(lines) == 2


def test_m6_a_voice_name_never_reads_a_file_of_the_current_folder(run, cvae, voices, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from vaesynth.voices.keep import load_voice

    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").write_text(voice_json("here", str(cvae)))
    with pytest.raises(KeepError):
        load_voice("here")
    with pytest.raises(KeepError):
        load_voice("../here")
    code, _, err = run("say", "1", "--voice", "here", "--model", str(cvae), "-o", str(tmp_path / "x.wav"))
    assert code == 2 and "here" in err[0]  # not a speaker of the model, and no saved voice
    assert not (tmp_path / "x.wav").exists()


def test_m6_a_saved_voice_named_like_a_speaker_is_named_not_hidden(run, cvae: Path, voices: Path) -> None:  # noqa: ANN001
    voices.mkdir()
    (voices / "george.json").write_text(voice_json("george", str(cvae)))
    code, _, err = run("say", "1", "--voice", "george", "-o", str(voices.parent / "x.wav"))
    assert code == 2 and "both a speaker" in err[0] and "--rename" in err[0]
    code, _, err = run("voices", "--rename", "george", "bob")
    assert code == 2 and "speaker" in err[0]


def test_m6_names_are_whole_names() -> None:
    from vaesynth.voices.keep import is_voice_name

    assert is_voice_name("Mine 1") and not is_voice_name("mine\n") and not is_voice_name("x.json")
    assert not is_voice_name("../x") and not is_voice_name("")


def test_m11_bench_with_a_missing_or_broken_model_is_one_line(run, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run("bench", "--model", "/nonexistent")
    assert code == 2 and len(err) == 1 and "not found" in err[0]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    code, _, err = run("--model", str(broken), "bench")
    assert code == 2 and len(err) == 1 and "corrupt" in err[0]


# --- moderate: training -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--seed", "-1"], "seed"),
        (["--seed", str(2**70)], "seed"),
        (["--devices", "64"], "CPU core"),
        (["--runs-dir", "FILE"], "is a file"),
    ],
)
def test_m7_m8_m9_bad_training_options_are_one_line(args, says, tmp_path: Path, capsys, isolated_cache) -> None:  # noqa: ANN001, F811
    from training.__main__ import main as train_main

    if os.cpu_count() and os.cpu_count() >= 64 and "64" in args:
        pytest.skip("this machine has 64 cores")
    (tmp_path / "FILE").write_text("x")
    args = [str(tmp_path / "FILE") if a == "FILE" else a for a in args]
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    code = train_main(["fit", "--model", "mlp", "--epochs", "1", "--data", str(data), "--no-progress",
                       "--out", str(tmp_path / "b"), *args])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and says in one_line(err)
    assert not (tmp_path / "b").exists()


def test_m10_the_resume_hint_repeats_the_run(tmp_path: Path) -> None:
    from training.fit import resume_command

    hint = resume_command("cvae", 7, tmp_path / "out b", tmp_path / "runs" / "cvae", "/data", 3, None)
    assert hint.startswith("vaesynth-train fit --model cvae --resume --epochs 7 --out ")
    assert f"--runs-dir {tmp_path / 'runs'}" in hint and "'" + str(tmp_path / "out b") + "'" in hint
    assert "--data /data" in hint and "--seed 3" in hint


# --- moderate: settings -------------------------------------------------------------------------------


def test_m12_bad_settings_are_dropped_and_the_rest_load(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    from vaesynth.app.settings import AppSettings, file_settings

    conf = tmp_path / "s.conf"
    deep = "[" * 100_000 + "]" * 100_000
    conf.write_text(
        "[voice]\ndigit=\u0663\ntemperature=nan\nautoplay=false\n"
        f"performance={deep}\n[knobs]\nmlp=\"[1, NaN]\"\ncvae=\"[[[[1]]]]\"\ncnn=\"[0.5, 0.25]\"\n"
    )
    with caplog.at_level("WARNING", logger="vaesynth.settings"):
        s = AppSettings(file_settings(conf))
    assert s.digit == "5" and s.temperature == 1.0 and s.performance() == {}
    assert s.knobs("mlp") == [] and s.knobs("cvae") == [] and s.knobs("cnn") == [0.5, 0.25]
    assert s.auto_play is False  # the good keys load
    dropped = [r.getMessage() for r in caplog.records]
    assert len(dropped) == 5 and all("dropping" in m for m in dropped)
    s.sync()
    assert "\u0663" not in conf.read_text() and "[[[" not in conf.read_text()  # not saved again


# --- moderate: recipes ------------------------------------------------------------------------------


def _recipe(model: str, text: str = "12", seed: int = 1) -> RenderRecipe:
    return RenderRecipe(text, model, "0123456789abcdef", seed=seed)


def test_m13_the_recipe_inside_the_wav_wins_over_a_sidecar(tmp_path: Path) -> None:
    wav = tmp_path / "x.wav"
    write_wav_with_recipe(wav, np.zeros(800), 8000, _recipe("cvae", "12"))
    (tmp_path / "x.wav.json").write_text(json.dumps(_recipe("cvae", "99").to_dict()))
    assert read_recipe(wav).text == "12"


def test_m13_a_recipe_needs_its_weights_fingerprint(tmp_path: Path) -> None:
    d = _recipe("cvae").to_dict()
    for weights in ("", None, "xyz", "0" * 64):
        bad = {**d, "weights": weights} if weights is not None else {k: v for k, v in d.items() if k != "weights"}
        with pytest.raises(KeepError, match="fingerprint"):
            RenderRecipe.from_dict(bad)


def test_m13_relative_model_paths_resolve_beside_the_recipe(cvae: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    folder = tmp_path / "project"
    shutil.copytree(cvae, folder / "models" / "mine")
    (folder / "r.json").write_text(json.dumps(_recipe("models/mine").to_dict()))
    monkeypatch.chdir(tmp_path)
    assert read_recipe(folder / "r.json").model == str(folder / "models" / "mine")
    assert weights_fingerprint(folder / "models" / "mine") == weights_fingerprint(cvae)


# --- minor, the cheap ones -----------------------------------------------------------------------


def test_minor_output_paths(run, cvae: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    code, out, err = run("say", "1", "--model", str(cvae), "-o", "./-")
    assert code == 0 and (tmp_path / "-").is_file(), err
    code, _, err = run("say", "1", "--model", str(cvae), "-o", "newdir/")
    assert code == 2 and "folder" in err[0] and not (tmp_path / "newdir").exists()


def test_minor_error_messages_are_short_and_right(run, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run("say", "1" * 5000, "-o", str(tmp_path / "x.wav"))
    assert code == 2 and len(err) == 1 and len(err[0]) < 400
    code, _, err = run("say", "1", "--pitch", "-inf")
    assert code == 2 and "finite" in err[0]
    code, _, err = run("say", "--recipe", str(tmp_path / "missing.wav"))
    assert code == 2 and "not found" in err[0]


def test_minor_options_a_recipe_would_ignore_are_refused(run, tmp_path: Path) -> None:  # noqa: ANN001
    for extra in (["--pitch", "2"], ["--seed", "3"], ["--temperature", "0.5"]):
        code, _, err = run("say", "--recipe", str(tmp_path / "r.json"), *extra)
        assert code == 2 and "recipe" in err[0]
    code, _, err = run("say", "1", "--contour", "0.5")
    assert code == 2 and "--note" in err[0]
    code, _, err = run("say", "1", "--rate", "16000", "--play")
    assert code == 2 and "--rate" in err[0]
    code, _, err = run("say", "1", "--save-voice", "", "-o", str(tmp_path / "x.wav"))
    assert code == 2 and "name" in err[0]


def test_minor_reordering_characters_in_a_bundle_are_refused(tmp_path: Path) -> None:
    from vaesynth.model.bundle import BundleError, read_config

    b = untrained_bundle("mlp", tmp_path / "mlp")
    config = json.loads((b / "config.json").read_text())
    config["display_name"] = "evil\u202egnp.exe"
    (b / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="control characters"):
        read_config(b)
