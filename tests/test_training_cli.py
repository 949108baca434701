"""Training robustness, the command line: the load report is printed, bad arguments are one line +
exit 2, resuming survives a damaged checkpoint, a killed bundle write leaves nothing stale behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training import isolated_cache, write_fake_fsdd  # noqa: F401 - fixture reused
from test_training_data import make_unreadable

from training.__main__ import main as train_main
from training.bundling import untrained_bundle, write_bundle
from training.config import ConfigError
from training.fit import fit
from vaesynth.dsp.spectral import SpectralConfig
from vaesynth.model.bundle import load_bundle

CFG = SpectralConfig()
ROOT = Path(__file__).resolve().parents[1]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    return err


def test_fit_prints_the_load_report_also_from_the_cache(tmp_path, monkeypatch, capsys):
    folder = write_fake_fsdd(tmp_path / "rec", takes=6)
    make_unreadable(folder / "2_bob_3.wav", monkeypatch)
    good = (folder / "4_ann_0.wav").read_bytes()
    (folder / "4_ann_5.wav").write_bytes(good[:600])
    args = ["fit", "--model", "mlp", "--data", str(folder), "--epochs", "1", "--no-progress"]
    for run, cached in enumerate(("", " (features from the cache)")):
        assert train_main(args + ["--out", str(tmp_path / f"b{run}")]) == 0
        out = capsys.readouterr().out
        line = next(x for x in out.splitlines() if x.startswith("data "))
        assert "118 recordings loaded" in line and line.endswith(cached)
        assert "unreadable file (Permission denied) (e.g. 2_bob_3.wav)" in line
        assert "truncated wav" in line
        bundle = load_bundle(tmp_path / f"b{run}")
        assert "2 skipped" not in bundle.meta["training"]["load_report"]
        assert "truncated wav" in bundle.meta["training"]["load_report"]


# --- item 6: bad arguments are one readable line and exit 2 --------------------------------


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
        (["--epochs", "-1"], "--epochs: must be a positive integer, got -1"),
        (["--epochs", "ten"], "--epochs: must be a positive integer, got 'ten'"),
        (["--devices", "0"], "--devices: must be a positive integer"),
        (["--devices", "-3"], "--devices: must be a positive integer"),
        (["--num-nodes", "0"], "--num-nodes: must be a positive integer"),
        (["--limit", "0"], "--limit: must be a positive integer"),
        (["--accelerator", "tpu9"], "--accelerator: invalid choice"),
        (["--model", "all", "--out", "x"], "--out names one bundle folder"),
        (["--devices", "0,1"], "--devices as a list of indices is for GPUs"),
    ],
)
def test_bad_fit_arguments_are_one_line_and_exit_2(tmp_path, capsys, extra, expect):
    data = write_fake_fsdd(tmp_path / "rec", takes=6)  # trainable data: the argument is what is wrong
    assert train_main(["fit", "--data", str(data), "--no-progress", *extra]) == 2
    err = one_line_error(capsys)
    assert err.startswith("vaesynth-train") and expect in err


def test_epochs_zero_is_invalid_in_the_api_too(tmp_path):
    """0 epochs used to mean "the recipe's 100"; "no training" would write random weights over the
    shipped bundle, so it is refused (untrained_bundle() makes a random bundle on purpose)."""
    with pytest.raises(ConfigError, match="epochs must be a positive integer, got 0"):
        fit("mlp", data=tmp_path, epochs=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_gpu_without_a_gpu_is_one_line(tmp_path, capsys):
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    assert train_main(["fit", "--model", "mlp", "--data", str(data), "--accelerator", "gpu"]) == 2
    err = one_line_error(capsys)
    assert "no CUDA GPU is available" in err and "--accelerator cpu" in err


def test_out_pointing_at_a_file_fails_before_training(tmp_path, capsys):
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        assert train_main(["fit", "--model", "mlp", "--data", str(data), "--out", str(out)]) == 2
        assert "is a file" in one_line_error(capsys)
    assert not (tmp_path / "cache" / "vaesynth" / "runs").exists()  # nothing was trained


def test_resume_from_damaged_checkpoints(tmp_path, capsys):
    """A truncated last.ckpt: resume from the newest intact checkpoint; none intact: one line, exit 2."""
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    args = [
        "fit",
        "--model",
        "mlp",
        "--data",
        str(data),
        "--no-progress",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "b"),
    ]
    assert train_main(args) == 0
    ckpts = tmp_path / "cache" / "vaesynth" / "runs" / "mlp" / "checkpoints"
    last = ckpts / "last.ckpt"
    epoch_file = next(p for p in ckpts.glob("*.ckpt") if p != last)
    blob = last.read_bytes()
    last.write_bytes(blob[: len(blob) // 2])
    capsys.readouterr()
    assert train_main(args + ["--resume"]) == 0
    assert "last.ckpt is unreadable" in capsys.readouterr().out
    for p in ckpts.glob("*.ckpt"):
        p.write_bytes(p.read_bytes()[:1000])
    assert epoch_file.is_file()
    assert train_main(args + ["--resume"]) == 2
    err = one_line_error(capsys)
    assert "cannot resume: no readable checkpoint" in err and "without --resume" in err
    # a readable checkpoint of another run length is refused, not crashed on
    last.unlink()
    for p in ckpts.glob("*.ckpt"):
        p.unlink()
    assert train_main(args) == 0
    capsys.readouterr()
    assert train_main([*args[:-4], "--epochs", "2", "--out", str(tmp_path / "b"), "--resume"]) == 2
    assert "belongs to a 1-epoch run" in one_line_error(capsys)


def test_evaluate_out_pointing_at_a_file_is_one_line(tmp_path, capsys):
    data = write_fake_fsdd(tmp_path / "rec", takes=1)
    (tmp_path / "f").write_text("x")
    assert train_main(["evaluate", "--data", str(data), "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in one_line_error(capsys)
    assert train_main(["evaluate", "--data", str(data), "--per-digit", "0"]) == 2
    assert "--per-digit: must be a positive integer" in one_line_error(capsys)


def test_refit_stats_with_other_speakers_is_one_line(tmp_path, capsys):
    data = write_fake_fsdd(tmp_path / "rec", takes=6)  # speakers ann, bob
    folder = untrained_bundle("mlp", tmp_path / "b", speakers=("alice", "bob"))
    assert train_main(["refit-stats", "--model", str(folder), "--data", str(data)]) == 2
    assert "speakers" in one_line_error(capsys)
    assert train_main(["export", "--model", str(tmp_path / "nope"), "--data", str(data)]) == 2  # the old name
    assert "not found" in one_line_error(capsys)


# --- item 8 (training side): a killed bundle write leaves no stale temp file ----------------

KILLED_WRITER = """
import os, signal, sys
import vaesynth.model.bundle as vb
from training.bundling import untrained_bundle

def half_then_die(tensors, path, *a, **k):
    with open(path, "wb") as f:
        f.write(b"half a safetensors file")
    os.kill(os.getpid(), signal.SIGKILL)

vb.save_file = half_then_die
untrained_bundle("mlp", sys.argv[1])
"""


def test_killed_bundle_write_leaves_nothing_stale_after_the_next_write(tmp_path):
    folder = tmp_path / "mlp"
    untrained_bundle("mlp", folder, seed=1)
    before = load_bundle(folder).model.state_dict()
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(folder)], cwd=ROOT, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert list(folder.glob("*.tmp"))  # what a SIGKILL mid-write leaves
    for k, v in load_bundle(folder).model.state_dict().items():
        assert torch.equal(v, before[k])  # the bundle itself is intact (atomic rename)
    (folder / "config.json.tmp").write_text("{half")
    (folder / "notes.tmp").write_text("not ours")  # --out may hold other files: left alone
    b = load_bundle(folder)
    write_bundle(b.model, b.meta["params"], b.spectral, b.stats, b.speakers, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "notes.tmp", "weights.safetensors"]
