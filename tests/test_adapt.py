"""Learn my voice, the command line and the personal bundle (training/adapt.py, vaesynth.model.catalog).

Real takes: FSDD training recordings of one speaker, as a person's folder of takes would hold them.
The adaptation runs for a few steps only (the quality is measured in experiments/learn_voice.py and
docs/learn_voice.md); these tests check what it writes, what it refuses and how it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from training.__main__ import main as train_main
from training.adapt import AdaptCancelled, AdaptSettings, Take, adapt, check_takes
from vaesynth.cli.cli import main as app_main
from vaesynth.model.bundle import BundleError, load_bundle, weights_fingerprint
from vaesynth.model.catalog import (
    delete_personal,
    is_personal,
    list_bundles,
    rename_personal,
    resolve_model,
    user_models_dir,
)
from vaesynth.sound.recordings import find_recordings

ROOT = Path(__file__).resolve().parents[1]
FSDD = find_recordings()
pytestmark = pytest.mark.skipif(FSDD is None, reason="needs the FSDD recordings ($VAESYNTH_FSDD)")
SHIPPED = ROOT / "resources" / "models" / "cvae"
TINY = ["--steps", "3"]


def copy_takes(folder: Path, speaker: str = "george", per_digit: int = 1, digits=range(10)) -> Path:  # noqa: ANN001
    folder.mkdir(parents=True, exist_ok=True)
    for d in digits:
        for i in range(per_digit):
            shutil.copy(FSDD / f"{d}_{speaker}_{5 + i}.wav", folder / f"{d}_{speaker}_{5 + i}.wav")
    return folder


def one_line(capsys) -> str:  # noqa: ANN001
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user models"
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(folder))
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One personal model learnt by the CLI (3 steps) from 20 takes, two per digit: (user folder, takes)."""
    tmp = tmp_path_factory.mktemp("adapt")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAESYNTH_USER_MODELS", str(tmp / "models"))
        takes = copy_takes(tmp / "takes", per_digit=2)
        assert train_main(["adapt", str(takes), "--name", "Ann's voice", *TINY]) == 0
    return tmp / "models", takes


def test_the_cli_writes_a_small_personal_model_over_its_base(made, monkeypatch, capsys) -> None:  # noqa: ANN001
    models, _ = made
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(models))
    folder = models / "Ann's voice"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "texture.safetensors", "weights.safetensors"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2 * 2**20  # adds at most 2 MB
    config = json.loads((folder / "config.json").read_text())
    assert config["base"] == {"model": "cvae", "weights": weights_fingerprint(SHIPPED)}
    assert config["speakers"] == ["Ann's voice"] and config["personal"]["takes"] == 20
    stored = load_file(str(folder / "weights.safetensors"))
    assert "model.dec_blocks.2.1.conv2.weight" in stored and "model.enc_in.weight" not in stored
    mine, base = load_bundle(folder), load_bundle(SHIPPED)
    a, b = mine.model.state_dict(), base.model.state_dict()
    assert torch.equal(a["enc_in.weight"], b["enc_in.weight"])  # the encoder is the base's
    assert not torch.equal(a["out.weight"], b["out.weight"])  # the decoder learnt
    assert mine.stats.has_posteriors and len(mine.stats.post_digit) == 20  # the knob space: the takes
    assert len(mine.texture) == 20  # the texture bank: the person's own residuals
    assert is_personal(folder) and not is_personal(SHIPPED)


def test_a_personal_model_is_listed_after_the_shipped_ones_and_works_with_model(made, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    models, _ = made
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(models))
    names = list(list_bundles())
    assert names[:3] == ["cvae", "cnn", "mlp"] and names[-1] == "Ann's voice"
    assert resolve_model("Ann's voice") == models / "Ann's voice"
    out = tmp_path / "2025.wav"
    assert app_main(["--model", "Ann's voice", "say", "2025", "--out", str(out)]) == 0
    wave, rate = sf.read(str(out))
    assert rate == 8000 and len(wave) > 0.8 * rate and np.abs(wave).max() > 0.1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda f: copy_takes(f, digits=range(4)), "too few takes: 4"),
        (lambda f: copy_takes(f, per_digit=2, digits=[0, 1, 2, 3, 4, 5, 6, 8, 9]), "no take of digit 7"),
        (lambda f: f.mkdir(), "holds no WAV takes"),
    ],
)
def test_takes_that_cannot_make_a_voice_are_one_line(make, expected, tmp_path, user_dir, capsys) -> None:  # noqa: ANN001
    takes = tmp_path / "takes"
    make(takes)
    assert train_main(["adapt", str(takes), "--name", "Bo", *TINY]) == 2
    err = one_line(capsys)
    assert expected in err, err
    assert not user_dir.exists() or not any(user_dir.iterdir())


def test_a_silent_or_broken_take_is_named(tmp_path, user_dir, capsys) -> None:  # noqa: ANN001
    takes = copy_takes(tmp_path / "takes")
    sf.write(str(takes / "3_quiet.wav"), np.zeros(8000, np.float32), 8000)
    assert train_main(["adapt", str(takes), "--name", "Bo", *TINY]) == 2
    err = one_line(capsys)
    assert "3_quiet.wav" in err and "quiet" in err, err
    (takes / "3_quiet.wav").unlink()
    (takes / "4_notes.wav").write_text("not a sound\n")
    assert train_main(["adapt", str(takes), "--name", "Bo", *TINY]) == 2
    err = one_line(capsys)
    assert "4_notes.wav" in err and "not a readable sound file" in err, err


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cvae", "shipped model"), ("../evil", "cannot name a model"), ("", "cannot name a model"), ("a\nb", "cannot")],
)
def test_names_that_cannot_be_a_personal_model(name, expected, tmp_path, user_dir, capsys) -> None:  # noqa: ANN001
    takes = copy_takes(tmp_path / "takes")
    assert train_main(["adapt", str(takes), "--name", name, *TINY]) == 2
    assert expected in one_line(capsys)


def test_an_existing_name_needs_replace(made, monkeypatch, capsys) -> None:  # noqa: ANN001
    models, takes = made
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(models))
    before = (models / "Ann's voice" / "weights.safetensors").read_bytes()
    assert train_main(["adapt", str(takes), "--name", "Ann's voice", *TINY]) == 2
    assert "exists already" in one_line(capsys)
    assert (models / "Ann's voice" / "weights.safetensors").read_bytes() == before


def test_mixed_speakers_are_a_warning_and_one_speaker_is_not() -> None:
    def takes(f0s):  # noqa: ANN001
        return [Take(Path(f"{i % 10}_x.wav"), i % 10, False, np.zeros(8), f) for i, f in enumerate(f0s)]

    assert check_takes(takes([110.0 * 2 ** (k / 12) for k in np.linspace(-3, 3, 20)])) == []
    warned = check_takes(takes([110.0] * 10 + [260.0] * 10))
    assert len(warned) == 1 and "more than one speaker" in warned[0]
    # every FSDD speaker's own 20 takes read as one speaker (calibration of MIXED_SPREAD_ST)
    from vaesynth.dsp.spectral import SpectralConfig
    from vaesynth.voices.voice_in import load_take
    from vaesynth.voices.voice_norm import f0_median

    cfg = SpectralConfig()
    for speaker in ("george", "jackson", "lucas", "nicolas", "theo", "yweweler"):
        f0 = [f0_median(load_take(FSDD / f"{d}_{speaker}_{i}.wav", cfg=cfg), cfg) for d in range(10) for i in (5, 6)]
        assert check_takes(takes(f0)) == [], speaker


def test_the_cli_says_its_warnings_also_as_protocol_lines(tmp_path, user_dir, monkeypatch, capsys) -> None:  # noqa: ANN001
    import training.adapt as adapt_module

    monkeypatch.setattr(adapt_module, "check_takes", lambda takes: ["the takes may be more than one speaker"])
    takes = copy_takes(tmp_path / "takes")
    assert train_main(["adapt", str(takes), "--name", "Di", "--steps", "1", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert "warning the takes may be more than one speaker" in out.splitlines()
    assert "warning: the takes may be more than one speaker" in err
    assert out.splitlines()[-1] == f"done {user_dir / 'Di'}"


def test_a_cancelled_run_leaves_nothing(tmp_path, user_dir) -> None:  # noqa: ANN001
    takes = copy_takes(tmp_path / "takes")
    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(AdaptCancelled):
        adapt(takes, "Cy", settings=AdaptSettings(steps=50), cancel=cancel)
    assert not user_dir.exists() or list(user_dir.iterdir()) == []  # no model, no staging folder


def test_sigterm_stops_the_cli_and_leaves_nothing(tmp_path, user_dir) -> None:  # noqa: ANN001
    takes = copy_takes(tmp_path / "takes")
    cmd = [sys.executable, "-m", "training", "adapt", str(takes), "--name", "Cy", "--steps", "100000", "--progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # wait until it is learning
            if line.startswith("progress") and "learning" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().endswith("cancelled: no model was made") and err.strip().count("\n") == 0, err
    assert not user_dir.exists() or list(user_dir.iterdir()) == []  # nothing made, nothing left


def test_leftovers_of_a_killed_run_are_never_listed_and_go_with_the_next(tmp_path, user_dir) -> None:  # noqa: ANN001
    user_dir.mkdir(parents=True)
    stale = user_dir / ".Cy.new-0badf00d"
    shutil.copytree(SHIPPED, stale)  # a complete-looking bundle in a staging folder
    assert "Cy" not in list_bundles() and ".Cy.new-0badf00d" not in list_bundles()
    takes = copy_takes(tmp_path / "takes")
    adapt(takes, "Cy", settings=AdaptSettings(steps=1, texture=False))
    assert sorted(p.name for p in user_dir.iterdir()) == ["Cy"]


# --- a personal bundle is untrusted input like any bundle ----------------------------------------------


def _copy_made(made, tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    models = tmp_path / "models"
    shutil.copytree(made[0], models)
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(models))
    return models / "Ann's voice"


def _edit_config(folder: Path, **changes) -> None:  # noqa: ANN003
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ({"model": "cvae", "weights": "0123456789abcdef"}, "another version of the model 'cvae'"),
        ({"model": "nobody", "weights": "0123456789abcdef"}, "which is not installed"),
        ({"model": "cvae"}, "'base' must name a model"),
        ({"model": "cvae", "weights": "../../etc/passwd"}, "'base' must name a model"),
        ("cvae", "'base' must name a model"),
        ({"model": "cnn", "weights": None}, "'base' must name a model"),
    ],
)
def test_a_personal_bundle_with_a_wrong_base_is_refused(made, tmp_path, monkeypatch, base, expected) -> None:  # noqa: ANN001
    folder = _copy_made(made, tmp_path, monkeypatch)
    _edit_config(folder, base=base)
    with pytest.raises(BundleError) as e:
        load_bundle(folder)
    assert expected in str(e.value) and "\n" not in str(e.value), e.value


def test_a_personal_bundle_cannot_be_its_own_or_another_personal_models_base(made, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    folder = _copy_made(made, tmp_path, monkeypatch)
    shutil.copytree(folder, folder.with_name("Other"))
    other = folder.with_name("Other")
    _edit_config(folder, base={"model": "Other", "weights": weights_fingerprint(other)})
    with pytest.raises(BundleError, match="which is not installed"):  # names are looked up among shipped models
        load_bundle(folder)
    _edit_config(folder, base={"model": str(other), "weights": weights_fingerprint(other)})
    with pytest.raises(BundleError, match="base must be a shipped model"):
        load_bundle(folder)
    _edit_config(folder, base={"model": str(folder), "weights": weights_fingerprint(folder)})
    with pytest.raises(BundleError, match="base must be a shipped model"):
        load_bundle(folder)


def test_a_personal_bundle_whose_weights_do_not_fit_its_base_is_refused(made, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    folder = _copy_made(made, tmp_path, monkeypatch)
    tensors = load_file(str(folder / "weights.safetensors"))
    for bad in ({"model.out.weight": torch.zeros(3, 3, dtype=torch.float16)},
                {"model.sneaky.weight": torch.zeros(3, dtype=torch.float16)}):  # fmt: skip
        save_file({**tensors, **bad}, str(folder / "weights.safetensors"))
        with pytest.raises(BundleError, match="does not match its base"):
            load_bundle(folder)
    save_file({**tensors, "model.out.weight": tensors["model.out.weight"] * float("nan")},
              str(folder / "weights.safetensors"))  # fmt: skip
    with pytest.raises(BundleError, match="non-finite"):
        load_bundle(folder)


def test_a_base_that_is_a_fifo_is_refused_without_hanging(made, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    folder = _copy_made(made, tmp_path, monkeypatch)
    fake = tmp_path / "fake base"
    fake.mkdir()
    shutil.copy(SHIPPED / "config.json", fake / "config.json")
    os.mkfifo(fake / "weights.safetensors")
    _edit_config(folder, base={"model": str(fake), "weights": "0123456789abcdef"})
    t0 = time.monotonic()
    with pytest.raises(BundleError, match="unusable|not a regular"):
        load_bundle(folder)
    assert time.monotonic() - t0 < 10


# --- rename and delete --------------------------------------------------------------------------------


def test_rename_and_delete_personal_models_only(made, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    folder = _copy_made(made, tmp_path, monkeypatch)
    new = rename_personal("Ann's voice", "Ann at home")
    assert new == folder.with_name("Ann at home") and not folder.exists()
    assert "Ann at home" in list_bundles() and "Ann's voice" not in list_bundles()
    assert load_bundle(new).display_name == "Ann at home"
    for bad, why in (("cvae", "shipped model"), ("a/b", "cannot name"), ("Ann at home", "exists already")):
        with pytest.raises(BundleError, match=why):
            rename_personal("Ann at home", bad)
    with pytest.raises(BundleError, match="no personal model named 'cvae'"):
        delete_personal("cvae")  # a shipped model is never deleted
    with pytest.raises(BundleError, match="no personal model named"):
        delete_personal("../../resources/models/cvae")
    delete_personal("Ann at home")
    assert "Ann at home" not in list_bundles() and list(user_models_dir().iterdir()) == []
    assert (SHIPPED / "weights.safetensors").is_file()
