"""Training module: data discovery, broken input, feature/bundle round-trips, a short real fit."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from training import data as tdata
from training.__main__ import main as train_main
from training.bundling import DISPLAY_NAMES, untrained_bundle
from training.config import MODEL_KINDS, RECIPES, ConfigError, Recipe, model_signature_params
from training.evaluate import run_folder
from vaesynth.dsp.spectral import SpectralConfig, features_to_mag, mag_to_features, magnitude, wave_to_features
from vaesynth.engine.synth import Synth
from vaesynth.model.bundle import BundleError, load_bundle
from vaesynth.model.models import build_model
from vaesynth.voices.voice import fit_latent_stats

CFG = SpectralConfig()


def _discover_fsdd() -> tuple[Path | None, str]:
    """The real FSDD recordings, found the way the training command finds them (``--data`` aside:
    ``$VAESYNTH_FSDD``, then the user cache), at import time, before the fixtures hide them."""
    try:
        return tdata.find_data(), ""
    except tdata.DataError as e:
        return None, f"needs the FSDD recordings: {e}"


REAL_FSDD, NO_FSDD_REASON = _discover_fsdd()
requires_fsdd = pytest.mark.skipif(REAL_FSDD is None, reason=NO_FSDD_REASON)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(tdata.ENV_VAR, raising=False)


def tone(freq: float, seconds: float = 0.4, sr: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(1, np.minimum(t, seconds - t) / 0.05)
    return (0.5 * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_fake_fsdd(folder: Path, takes: int = 6, speakers=("ann", "bob")) -> Path:
    """FSDD-named recordings of tones (digit sets the pitch), for machines without FSDD."""
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(10):
        for s, spk in enumerate(speakers):
            for i in range(takes):
                sf.write(folder / f"{d}_{spk}_{i}.wav", tone(150 + 40 * d + 10 * s + i), 8000, subtype="PCM_16")
    return folder


def test_features_round_trip():
    wave = tone(220.0)
    feat, n = wave_to_features(wave, CFG)
    assert feat.shape == (CFG.max_frames, CFG.n_bins)
    assert 0 < n <= CFG.max_frames
    assert feat.min() >= 0 and feat.max() <= 1
    mag = magnitude(wave, CFG)
    back = features_to_mag(mag_to_features(mag, CFG), CFG)
    loud = mag > 10 ** (CFG.db_min / 20) * 10
    np.testing.assert_allclose(back[loud], mag[loud], rtol=1e-3)
    # the loudest bin of the analysed tone is at 220 Hz
    peak_bin = int(feat[: n // 2].mean(0).argmax())
    assert abs(peak_bin * CFG.sample_rate / CFG.n_fft - 220) < CFG.sample_rate / CFG.n_fft


def test_spectral_config_round_trip_and_validation():
    assert SpectralConfig.from_dict(CFG.to_dict()) == CFG
    with pytest.raises(ValueError, match="unknown"):
        SpectralConfig.from_dict({**CFG.to_dict(), "bogus": 1})
    with pytest.raises(ValueError):
        SpectralConfig.from_dict({**CFG.to_dict(), "hop": 0})


@pytest.mark.parametrize("kind", ["mlp", "cnn", "cvae"])
def test_bundle_round_trip(tmp_path, kind):
    folder = untrained_bundle(kind, tmp_path / kind, seed=3)
    b = load_bundle(folder)
    assert b.kind == kind and b.spectral == CFG
    x = torch.rand(2, CFG.max_frames, CFG.n_bins)
    d = torch.tensor([1, 7])
    with torch.inference_mode():
        out = b.model.decode(b.model.encode(x, d)[0], d)
    assert out.features.shape == (2, CFG.max_frames, CFG.n_bins)
    # weights are stored as float16: reloading gives the same numbers as the saved model rounded
    again = load_bundle(folder)
    for (k, v), (_, w) in zip(b.model.state_dict().items(), again.model.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


def test_corrupt_bundles_fail_clearly(tmp_path):
    folder = untrained_bundle("cvae", tmp_path / "ok")
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "missing")
    # truncated weights
    w = folder / "weights.safetensors"
    blob = w.read_bytes()
    w.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(folder)
    # garbage config
    folder2 = untrained_bundle("mlp", tmp_path / "ok2")
    (folder2 / "config.json").write_text("{not json")
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(folder2)
    # config that does not match the weights
    folder3 = untrained_bundle("mlp", tmp_path / "ok3")
    cfg = json.loads((folder3 / "config.json").read_text())
    cfg["model"]["params"] = {"hidden": 32}
    (folder3 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="does not match"):
        load_bundle(folder3)
    # a bundle is data: a pickle in place of the weights is refused, not executed
    folder4 = untrained_bundle("cnn", tmp_path / "ok4")
    torch.save({"x": torch.zeros(1)}, folder4 / "weights.safetensors")
    with pytest.raises(BundleError):
        load_bundle(folder4)


def test_latent_stats_fit_the_encoded_distribution():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((600, 4)) * [1, 2, 3, 4] + 5
    digits = np.arange(600) % 10
    stats = fit_latent_stats(mu, digits, np.arange(600) % 3, 3)
    cov = stats.digit_chol[0] @ stats.digit_chol[0].T
    assert np.allclose(stats.digit_mean.numpy(), 5, atol=1.5)
    assert np.allclose(np.sqrt(np.diag(cov.numpy())), [1, 2, 3, 4], rtol=0.35)


def test_data_discovery_message(tmp_path, monkeypatch):
    with pytest.raises(tdata.DataError) as e:
        tdata.find_data()
    msg = str(e.value)
    assert "--data" in msg and tdata.ENV_VAR in msg and "vaesynth-train download" in msg
    assert "\n" not in msg
    with pytest.raises(tdata.DataError, match="no FSDD recordings"):
        tdata.find_data(tmp_path)
    fake = write_fake_fsdd(tmp_path / "fsdd" / "recordings", takes=1)
    assert tdata.find_data(tmp_path / "fsdd") == fake
    monkeypatch.setenv(tdata.ENV_VAR, str(fake))
    assert tdata.find_data() == fake


def test_cli_reports_missing_data_in_one_line(capsys):
    assert train_main(["fit", "--model", "cvae", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "FSDD recordings not found" in err


def test_broken_wavs_are_converted_or_skipped_and_counted(tmp_path):
    folder = write_fake_fsdd(tmp_path / "rec", takes=2)
    (folder / "3_ann_7.wav").write_bytes(b"")  # empty file
    good = (folder / "4_ann_0.wav").read_bytes()
    (folder / "4_ann_8.wav").write_bytes(good[:30])  # truncated header
    sf.write(folder / "5_ann_9.wav", np.stack([tone(300), tone(300)], 1), 8000)  # stereo
    sf.write(folder / "6_ann_9.wav", tone(300, sr=16000), 16000)  # other rate
    sf.write(folder / "7_ann_9.wav", np.zeros(4000, np.float32), 8000)  # silence
    ds = tdata.load_dataset(folder, CFG, cache=False)
    r = ds.report
    assert r.loaded == 40 + 2
    assert sum(r.skipped.values()) == 3
    assert sum(r.converted.values()) == 2
    summary = r.summary()
    assert "42 recordings loaded" in summary and "skipped" in summary and "converted" in summary


def test_download_verifies_and_keeps_nothing_on_mismatch(tmp_path):
    src = write_fake_fsdd(tmp_path / "src", takes=1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(src.iterdir()):
            tar.add(p, arcname=f"free-spoken-digit-dataset-x/recordings/{p.name}")
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "dl" / "recordings"
    with pytest.raises(tdata.DataError, match="failed verification"):
        tdata.download(dest, url=archive.as_uri(), expected="0" * 64)
    assert not dest.exists()
    good = tdata.fingerprint(src)["sha256"]
    assert tdata.download(dest, url=archive.as_uri(), expected=good) == dest
    assert len(list(dest.glob("*.wav"))) == 20
    with pytest.raises(tdata.DataError, match="could not download"):
        tdata.download(tmp_path / "x", url=(tmp_path / "nope.tgz").as_uri())


def test_short_fit_writes_a_loadable_bundle(tmp_path):
    if REAL_FSDD is not None:
        data, limit = REAL_FSDD, 6  # takes 0-5: 0-4 test, 5 train
    else:
        data, limit = write_fake_fsdd(tmp_path / "rec", takes=6), None
    out = tmp_path / "bundle"
    rc = train_main(
        ["fit", "--model", "cvae", "--data", str(data), "--epochs", "1", "--out", str(out), "--no-progress"]
        + (["--limit", str(limit)] if limit else [])
    )
    assert rc == 0
    b = load_bundle(out)
    assert b.kind == "cvae"
    assert b.meta["training"]["epochs"] == 1
    assert b.meta["data_fingerprint"]["n_files"] > 0
    assert torch.isfinite(b.stats.digit_mean).all()
    assert (tmp_path / "cache" / "vaesynth" / "runs" / "cvae" / "checkpoints" / "last.ckpt").is_file()
    # the whole recipe is recorded, and a shipped artifact carries no path of the machine that made it
    assert b.meta["training"]["recipe"] == RECIPES["cvae"].with_overrides(epochs=1).to_dict()
    assert b.meta["training"]["run"] == "cvae" and "log_dir" not in b.meta["training"]
    text = (out / "config.json").read_text()
    for local in {str(tmp_path), str(data), os.path.expanduser("~"), str(Path.cwd())}:
        assert local not in text, local
    assert run_folder(b) == tmp_path / "cache" / "vaesynth" / "runs" / "cvae"


def test_adversarial_stage_batches_at_its_own_size(tmp_path, monkeypatch):
    """``AdvConfig.batch_size``: the adversarial stage draws batches of its own size from the training
    set, the VAE stage of the recipe's; where both agree the stage reuses the VAE's loader."""
    import training.adversarial as adversarial
    import training.fit as tf

    seen = []

    def fake_finetune(module, dl, cfg, device="cpu", log=print):
        seen.append((dl.batch_size, cfg.batch_size, len(next(iter(dl))[0])))
        return {"steps": cfg.steps, "seconds": 0.0, "d": 0.0, "g": 0.0, "fm": 0.0, "rec": 0.0}

    monkeypatch.setattr(adversarial, "finetune", fake_finetune)
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    for vae_batch, adv_batch in ((8, 4), (4, 4)):
        out = tf.fit(
            "cvae", data=data, epochs=1, out=tmp_path / f"b{vae_batch}", run_dir=tmp_path / f"r{vae_batch}",
            progress=False, overrides={"batch_size": vae_batch, "adv": {"steps": 2, "batch_size": adv_batch}},
        )  # fmt: skip
        assert load_bundle(out).meta["training"]["batch_size"] == vae_batch
        assert seen[-1] == (adv_batch, adv_batch, adv_batch)


def test_validation_interval_always_validates_the_last_epoch():
    from training.fit import validation_interval

    for epochs in range(1, 130):
        n = validation_interval(epochs)
        assert 1 <= n <= 5 and epochs % n == 0, epochs
    assert [validation_interval(e) for e in (80, 40, 100, 7, 6, 2, 1)] == [5, 5, 5, 1, 3, 2, 1]


def test_interrupted_fit_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    """A run interrupted (Ctrl+C) after epoch 1 of 2 says how to resume, and --resume continues it."""
    from training.experiment import VAEExperiment

    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    out = tmp_path / "b"
    args = ["fit", "--model", "mlp", "--data", str(data), "--no-progress", "--out", str(out), "--epochs", "2"]

    def interrupt(self):
        if self.current_epoch == 1:
            raise KeyboardInterrupt  # what Ctrl+C raises, as epoch 2 begins

    monkeypatch.setattr(VAEExperiment, "on_train_epoch_start", interrupt, raising=False)
    assert train_main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "interrupted" in err and "--resume" in err
    assert not (tmp_path / "b").exists()  # no half-trained bundle was exported
    ckpt = tmp_path / "cache" / "vaesynth" / "runs" / "mlp" / "checkpoints" / "last.ckpt"
    first = torch.load(ckpt, weights_only=True, map_location="cpu")
    assert first["epoch"] == 0
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert train_main(args + ["--resume"]) == 0
    state = torch.load(ckpt, weights_only=True, map_location="cpu")
    assert state["epoch"] == 1 and state["global_step"] == 2 * first["global_step"]
    # two epochs validate once, at the end (the checkpoint after epoch 1 came without validation)
    logs = sorted((ckpt.parent.parent / "logs").glob("version_*/metrics.csv"))
    val_epochs = [int(r["epoch"]) for f in logs for r in csv.DictReader(f.open()) if r.get("val/rec")]
    assert val_epochs == [1]
    again = VAEExperiment.load_from_checkpoint(ckpt, map_location="cpu")  # hyperparameters = the recipe
    assert again.recipe == RECIPES["mlp"].with_overrides(epochs=2)
    assert load_bundle(tmp_path / "b").meta["training"]["epochs"] == 2


def test_evaluate_writes_results_and_bundle_metrics(tmp_path):
    """`vaesynth-train evaluate` end to end on generated audio and an untrained bundle."""
    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    bundle = untrained_bundle("cvae", tmp_path / "cvae", speakers=("ann", "bob"))
    out = tmp_path / "results"
    rc = train_main(["evaluate", "--data", str(data), "--models", str(bundle), "--per-digit", "2", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    m = res["models"]["cvae"]
    for key in ("acc_prior", "acc_prior_std_normal", "acc_recon", "speaker_acc_latent", "near_copies"):
        assert 0.0 <= m[key] <= 1.0, key
    for key in ("recon_db", "diversity", "copy_ratio", "periodicity"):
        assert np.isfinite(m[key]) and m[key] >= 0, key
    assert "| cvae |" in (out / "results.md").read_text()
    for png in ("spectrograms.png", "latent_map.png", "loss_curves.png"):
        assert (out / png).stat().st_size > 1000
    assert load_bundle(bundle).metrics["acc_prior"] == round(m["acc_prior"], 4)


def test_evaluate_unknown_model_is_one_line(tmp_path, capsys):
    data = write_fake_fsdd(tmp_path / "rec", takes=1)
    assert train_main(["evaluate", "--data", str(data), "--models", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err


def test_bundle_posteriors_round_trip_and_validation(tmp_path):
    folder = untrained_bundle("cvae", tmp_path / "b", seed=1)
    b = load_bundle(folder)
    assert b.stats.has_posteriors and len(b.stats.post_digit) == len(b.stats.post_mu)
    assert set(b.stats.post_digit.tolist()) == set(range(10))
    # a bundle with only part of the posteriors is refused with a clear message
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "weights.safetensors"))
    del tensors["stats.post_var"]
    save_file(tensors, str(folder / "weights.safetensors"))
    with pytest.raises(BundleError, match="part of the training posteriors"):
        load_bundle(folder)


def test_export_refreshes_latent_stats_from_data(tmp_path):
    from training.bundling import refresh_latent_stats

    data = write_fake_fsdd(tmp_path / "rec", takes=6)
    folder = untrained_bundle("mlp", tmp_path / "b", speakers=("ann", "bob"))
    before = load_bundle(folder)
    refresh_latent_stats(folder, data)
    after = load_bundle(folder)
    for (k, v), (_, w) in zip(before.model.state_dict().items(), after.model.state_dict().items(), strict=True):
        assert torch.equal(v, w), k  # weights untouched
    assert len(after.stats.post_mu) == 2 * 10 * 1  # the train takes (index 5) of 2 speakers x 10 digits
    assert not torch.allclose(before.stats.digit_mean, after.stats.digit_mean)


# --- one place for a run's configuration -----------------------------------------------------


def test_recipes_cover_every_model_kind_with_complete_params():
    """Recipes spell out every constructor argument, so no run follows a model default (the CNN's
    default channels=32 disagrees with its recipe's 16: the recipe wins, explicitly)."""
    from vaesynth.model.models import MODEL_TYPES

    assert tuple(RECIPES) == MODEL_KINDS == tuple(MODEL_TYPES)
    assert set(DISPLAY_NAMES) == set(MODEL_KINDS)
    for kind, recipe in RECIPES.items():
        assert recipe.kind == kind
        assert set(recipe.params) == set(model_signature_params(kind)), kind
        model = MODEL_TYPES[kind](CFG, **recipe.params)
        assert model.latent_dim == recipe.params["latent_dim"]
    assert RECIPES["cnn"].params["channels"] == 16 != model_signature_params("cnn")["channels"]


def test_recipe_is_validated_and_round_trips():
    r = RECIPES["cvae"]
    assert Recipe.from_dict(r.to_dict()) == r
    json.dumps(r.to_dict())  # plain values: stored in bundles and checkpoints
    assert r.with_overrides(epochs=3, seed=None).epochs == 3
    assert r.with_overrides(epochs=3).effective_warmup_epochs == 1
    assert r.effective_warmup_epochs == 10
    for bad in ({"epochs": 0}, {"epochs": -1}, {"batch_size": 0}, {"lr": 0.0}, {"free_bits": -1.0}, {"kind": "rnn"}):
        with pytest.raises(ConfigError):
            r.with_overrides(**bad)
    with pytest.raises(ConfigError, match="unknown recipe settings: bogus"):
        r.with_overrides(bogus=1)


def test_experiment_takes_every_setting_from_its_recipe():
    from training.experiment import VAEExperiment

    recipe = RECIPES["cvae"].with_overrides(f0_weight=3.0, teacher_f0=False, beta=0.5, epochs=9)
    exp = VAEExperiment(recipe)
    assert dict(exp.hparams) == recipe.to_dict()
    assert exp.beta_now() == 0.0  # warm-up starts at 0
    assert exp.model.latent_dim == recipe.params["latent_dim"] == 32 and exp.model.head == "harmonic"
    again = VAEExperiment(recipe.to_dict())  # as Lightning rebuilds it from a checkpoint's hyperparameters
    assert again.recipe == recipe


def test_cvae_encoder_input_layer_and_fused_optimizers():
    """The encoder's first layer, split into the data's and the digit's parts for speed, is still
    the one convolution over their concatenation that the bundles' weights were trained as, and
    its backward still reaches the digit embedding (the rows of the digits used, no others).
    Training steps use torch's fused Adam(W) on the CPU."""
    from training.adversarial import finetune  # noqa: F401  (imports fused_ok from the experiment)
    from training.experiment import VAEExperiment, fused_ok

    torch.manual_seed(0)
    exp = VAEExperiment(RECIPES["cvae"].with_overrides(params={**RECIPES["cvae"].params, "channels": 16}))
    m = exp.model
    x, d = torch.rand(3, CFG.max_frames, CFG.n_bins), torch.tensor([0, 4, 9])
    e = m.digit_emb(d)
    whole = m.enc_in(torch.cat([x.transpose(1, 2), e[:, :, None].expand(-1, -1, x.shape[1])], dim=1))
    seen = []
    handle = m.enc_blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    mu, _ = m.encode(x, d)
    handle.remove()
    down_input = torch.nn.functional.gelu(whole)
    torch.testing.assert_close(seen[0], m.enc_down[0](down_input), rtol=1e-5, atol=1e-5)
    mu.sum().backward()
    assert m.digit_emb.weight.grad[[0, 4, 9]].abs().sum() > 0 and m.digit_emb.weight.grad[1].abs().sum() == 0
    assert fused_ok(m.parameters()) is True
    exp.trainer = types.SimpleNamespace(estimated_stepping_batches=1000)  # what the schedule needs of a trainer
    opt = exp.configure_optimizers()["optimizer"]
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["fused"] is True


def test_reconstruction_loss_choice():
    """``rec_loss``/``rec_weight``: the summed squared error (default) or the summed absolute error,
    scaled into the total; anything else is refused with one sentence."""
    from training.experiment import VAEExperiment

    small = {**RECIPES["cvae"].params, "latent_dim": 4, "channels": 16}
    torch.manual_seed(0)
    x, d = torch.rand(2, CFG.max_frames, CFG.n_bins), torch.tensor([1, 7])
    batch = (x, d, torch.tensor([50, 90]), torch.full((2, CFG.max_frames), 120.0), torch.rand(2, CFG.max_frames))
    results = {}
    for name, extra in (("l2", {}), ("l1", {"rec_loss": "l1", "rec_weight": 0.1})):
        torch.manual_seed(1)  # the same weights for both
        exp = VAEExperiment(RECIPES["cvae"].with_overrides(params=small, warmup_epochs=0, **extra)).eval()
        decoded = []
        decode = exp.model.decode
        exp.model.decode = lambda *a, **k: decoded.append(decode(*a, **k)) or decoded[-1]  # noqa: B023
        with torch.no_grad():
            results[name] = (exp.losses(batch), (decoded[0].features - x))
    (a, err), (b, err1) = results["l2"], results["l1"]
    torch.testing.assert_close(err, err1)  # eval mode (z = posterior mean): the same decoder output
    assert float(a["rec"]) == pytest.approx(float((err**2).sum() / 2), rel=1e-5)
    assert float(b["rec"]) == pytest.approx(float(err.abs().sum() / 2), rel=1e-5)
    assert float(a["loss"] - b["loss"]) == pytest.approx(float(a["rec"] - 0.1 * b["rec"]), rel=1e-4)
    # rec_bins "mel": each bin's error weighted by the mel scale's density (mean weight 1, low bins more)
    from training.experiment import bin_weights

    w = bin_weights(CFG, "mel")
    assert w.shape == (CFG.n_bins,) and float(w.mean()) == pytest.approx(1.0)
    assert float(w[0]) == pytest.approx(3.0, rel=0.05) and float(w[-1]) == pytest.approx(0.45, rel=0.05)
    torch.manual_seed(1)
    exp = VAEExperiment(RECIPES["cvae"].with_overrides(params=small, warmup_epochs=0, rec_bins="mel")).eval()
    with torch.no_grad():
        m = exp.losses(batch)
    assert float(m["rec"]) == pytest.approx(float((err**2 * w).sum() / 2), rel=1e-5)
    for bad in ({"rec_loss": "huber"}, {"rec_weight": 0.0}, {"rec_bins": "bark"}):
        with pytest.raises(ConfigError):
            RECIPES["cvae"].with_overrides(**bad)


def test_time_varying_latents_option(tmp_path):
    """``tvl_dim``: a per-segment latent sequence with an autoregressive prior; off by default, so
    bundles without it load as before; on, it trains (its KL is a loss term), round-trips through a
    bundle, and a render draws it from the prior, seeded by the knobs: deterministic per voice,
    different between voices."""
    from training.experiment import VAEExperiment

    small = {"latent_dim": 4, "channels": 16, "voicing": True}
    old = load_bundle(untrained_bundle("cvae", tmp_path / "old", params=small))
    assert old.model.tvl_dim == 0 and not hasattr(old.model, "enc_tvl")  # same weights as before
    folder = untrained_bundle("cvae", tmp_path / "tvl", params={**small, "tvl_dim": 3, "tvl_temp": 0.5})
    m = load_bundle(folder).model
    n_seg = CFG.max_frames // 8
    x, d = torch.rand(2, CFG.max_frames, CFG.n_bins), torch.tensor([1, 7])
    with torch.inference_mode():
        mu, logvar, w_mu, w_logvar = m.encode_all(x, d)
        assert mu.shape == (2, 4) and w_mu.shape == w_logvar.shape == (2, n_seg, 3)
        torch.testing.assert_close(m.encode(x, d)[0], mu)
        z = torch.randn(2, 4)
        a, b = m.decode(z, d).features, m.decode(z, d).features
        torch.testing.assert_close(a, b)  # the prior draw is seeded by the code: a render is a function of the knobs
        assert not torch.allclose(a, m.decode(z + 0.1, d).features)
        w = m.sample_tvl(z, d)
        assert w.shape == (2, n_seg, 3)
        torch.testing.assert_close(m.decode(z, d, w=w).features, a)
        assert not torch.allclose(m.decode(z, d, w=w + 1.0).features, a)  # the decoder listens to w
        cond = m.tvl_cond(z, d)  # temperature 0: the prior's mean path, whatever the noise
        eps = torch.randn(2, 2, n_seg, 3)
        torch.testing.assert_close(m.tvl_prior.sample(cond, eps[0], 0.0), m.tvl_prior.sample(cond, eps[1], 0.0))
    # fresh voices through the engine: a new voice each press
    s = Synth(load_bundle(folder))
    rng = np.random.default_rng(0)
    w1, w2 = (s.render_digit(5, s.knobs.fresh(5, 1.0, rng)).wave for _ in range(2))
    assert len(w1) != len(w2) or not np.allclose(w1, w2)
    # training: the KL of w against its prior is a loss term with gradients to encoder, prior and decoder
    recipe = RECIPES["cvae"].with_overrides(
        params={**RECIPES["cvae"].params, **small, "tvl_dim": 3}, tvl_beta=0.2, warmup_epochs=0
    )
    exp = VAEExperiment(recipe).train()
    batch = (x, d, torch.tensor([50, 90]), torch.full((2, CFG.max_frames), 120.0), torch.rand(2, CFG.max_frames))
    losses = exp.losses(batch)
    assert losses["kl_w"] > 0
    losses["loss"].backward()
    model = exp.model
    for part in (model.enc_tvl, model.tvl_prior, model.from_w):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    with pytest.raises(ConfigError):
        recipe.with_overrides(tvl_beta=-1.0)


def test_frame_noise_option(tmp_path):
    """``frame_noise``: per-frame noise into the decoder's last stage. Its projection starts at
    zero, so a decoder given it renders exactly as before until the adversarial stage trains it;
    once trained, a render is still a function of the knobs (noise seeded by the code), and the
    noise reaches the output frame by frame."""
    small = {"latent_dim": 4, "channels": 16, "voicing": True, "texture": 1.0}
    plain = load_bundle(untrained_bundle("cvae", tmp_path / "plain", params=small)).model
    assert plain.frame_noise == 0 and not hasattr(plain, "noise_in")
    m = build_model("cvae", CFG, {**small, "frame_noise": 5})
    m.load_state_dict({**plain.state_dict(), "noise_in.weight": m.noise_in.weight.detach()})
    names = [n for n, _ in m.named_parameters()]
    assert names[-1] == "noise_in.weight"  # registered last (grid checkpoints are converted by appending it)
    m.eval()
    z, d = torch.randn(3, 4), torch.tensor([0, 4, 9])
    with torch.inference_mode():
        torch.testing.assert_close(m.decode(z, d).features, plain.eval().decode(z, d).features)
        torch.nn.init.normal_(m.noise_in.weight, std=1.0)  # as if trained
        a = m.decode(z, d).features
        torch.testing.assert_close(m.decode(z, d).features, a)  # seeded: deterministic per voice
        assert not torch.allclose(a, plain.decode(z, d).features)
        noise = m.frame_noise_draw(z)
        assert noise.shape == (3, 5, CFG.max_frames)
        assert not torch.allclose(noise[0], noise[1])  # another voice, other noise
    m.train()
    assert not torch.equal(m.frame_noise_draw(z), m.frame_noise_draw(z))  # fresh noise every training step


def test_residual_option():
    """``residual``: a per-bin correction of the harmonic head's output, zero at the start (a trained
    decoder given it is unchanged), and then able to change single bins of single frames."""
    small = {"latent_dim": 4, "channels": 16, "voicing": True}
    plain = build_model("cvae", CFG, small).eval()
    m = build_model("cvae", CFG, {**small, "residual": True, "frame_noise": 2})
    assert [n for n, _ in m.named_parameters()][-3:] == ["noise_in.weight", "res_out.weight", "res_out.bias"]
    new = {k: v for k, v in m.state_dict().items() if k not in plain.state_dict()}  # the zero-initialised extras
    m.load_state_dict({**plain.state_dict(), **new})
    m.eval()
    z, d = torch.randn(2, 4), torch.tensor([3, 8])
    with torch.inference_mode():
        before = plain.decode(z, d).features
        torch.testing.assert_close(m.decode(z, d).features, before)
        m.res_out.bias[40] = 0.05  # one bin, 5% of the dB range up in every frame
        after = m.decode(z, d).features
    changed = (after - before).abs().amax(dim=(0, 1)) > 1e-4
    assert changed[40] and changed.sum() == 1


@pytest.mark.parametrize(("render", "loss"), [("features", "ls"), ("vocoder", "ls"), ("features", "hinge")])
def test_adversarial_stage_trains_the_decoder_only(render, loss):
    """``training.adversarial.finetune``: a few steps change the decoder and leave the encoder; the
    discriminators judge either the mixed magnitude or the vocoder's re-analysed output, with a
    least-squares or a hinge loss."""
    from training.adversarial import AdvConfig, d_term, finetune, g_term
    from training.experiment import VAEExperiment

    small = {"latent_dim": 4, "channels": 16, "voicing": True, "texture": 1.0, "hard_gate": True}
    torch.manual_seed(0)
    exp = VAEExperiment(RECIPES["cvae"].with_overrides(params={**RECIPES["cvae"].params, **small}))
    n = 4
    x = torch.rand(n, CFG.max_frames, CFG.n_bins) * 0.5
    batch = (x, torch.arange(n), torch.tensor([40, 60, 80, 100]), torch.full((n, CFG.max_frames), 150.0),
             torch.rand(n, CFG.max_frames))  # fmt: skip
    before = {k: v.clone() for k, v in exp.model.state_dict().items()}
    cfg = AdvConfig(steps=3, warmup_steps=1, channels=8, render=render, loss=loss)
    log = finetune(exp, [batch], cfg, log=lambda *_: None)
    assert log["steps"] == 3
    after = exp.model.state_dict()
    assert torch.equal(after["enc_in.weight"], before["enc_in.weight"])  # encoder frozen
    assert not torch.equal(after["out.weight"], before["out.weight"])  # decoder trained
    with pytest.raises(ValueError, match="unknown adversarial render"):
        finetune(exp, [batch], AdvConfig(steps=1, render="wavenet"))
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        finetune(exp, [batch], AdvConfig(steps=1, loss="wasserstein"))
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-2.0, 0.0])
    assert float(d_term(real, fake, "ls")) == pytest.approx(1.0 + 2.0)  # (1 + 1) / 2 + (4 + 0) / 2
    assert float(d_term(real, fake, "hinge")) == pytest.approx(0.5 + 0.5)  # relu(1 - r), relu(1 + f): means
    assert float(g_term(fake, "ls")) == pytest.approx((9.0 + 1.0) / 2) and float(g_term(fake, "hinge")) == 1.0


def test_adversarial_step_equals_its_plain_form():
    """``finetune``'s cheaper step (one posterior for both decoder passes, real and fake through the
    discriminators as one batch, no discriminator weight gradients in the decoder step) trains
    exactly what the plain form does: the same weights after two steps, in float64."""
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the discriminators finetune builds, too
    try:
        trained, init = _adversarial_two_ways()
    finally:
        torch.set_default_dtype(prev)
    assert (trained[0] - init).abs().max() > 1e-4  # the two steps did train
    torch.testing.assert_close(trained[0], trained[1], rtol=0, atol=1e-12)


def _adversarial_two_ways() -> tuple[list[torch.Tensor], torch.Tensor]:
    """The decoder weights after two steps of ``finetune`` and of the plain form, and at the start."""
    from training.adversarial import AdvConfig, MultiScaleDiscriminator, finetune
    from training.experiment import VAEExperiment

    small = {"latent_dim": 4, "channels": 16, "voicing": True, "texture": 1.0, "hard_gate": True}
    recipe = RECIPES["cvae"].with_overrides(params={**RECIPES["cvae"].params, **small})
    cfg = AdvConfig(steps=2, warmup_steps=0, channels=8, discs=("1d", "utt"))
    n = 4
    x = torch.rand(n, CFG.max_frames, CFG.n_bins) * 0.5
    f0, voicing = torch.full((n, CFG.max_frames), 150.0), torch.rand(n, CFG.max_frames)
    batch = (x, torch.arange(n), torch.tensor([40, 60, 80, 100]), f0, voicing)
    flat = lambda exp: torch.cat([p.detach().flatten() for p in exp.model.parameters()])  # noqa: E731
    trained = []
    for plain in (False, True):
        torch.manual_seed(0)
        exp = VAEExperiment(recipe).double()  # .double(): the model's float32 buffers too
        if not plain:
            finetune(exp, [batch], cfg, log=lambda *_: None)
        else:  # the stage written out the plain way (as it was before it was made cheaper)
            model = exp.model.train()
            model.requires_grad_(False)
            dec = [p for name, p in model.named_parameters() if not name.startswith(("enc_", "to_stats"))]
            for p in dec:
                p.requires_grad_(True)
            disc = MultiScaleDiscriminator(model.n_bins, cfg.channels, cfg.scales, cfg.discs, cfg.utt_frames)
            opt_g = torch.optim.Adam(dec, lr=cfg.lr, betas=(0.5, 0.9))
            opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.d_lr, betas=(0.5, 0.9))
            xb, digit, n_valid = batch[:3]
            mask = (torch.arange(xb.shape[1])[None, :] < n_valid[:, None]).double().unsqueeze(-1)
            for _ in range(cfg.steps):
                vae = exp.losses(batch)
                with torch.no_grad():
                    mu, logvar = model.encode(xb, digit)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                fake, real = model.decode(z, digit, texture=True).features * mask, xb * mask
                outs = zip(disc(real, digit, n_valid), disc(fake.detach(), digit, n_valid), strict=True)
                d_loss = sum(((lr_ - 1) ** 2).mean() + (lf**2).mean() for (_, lr_), (_, lf) in outs)
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                g_adv = fm = 0.0
                for (fr, _), (ff, lf) in zip(disc(real, digit, n_valid), disc(fake, digit, n_valid), strict=True):
                    g_adv = g_adv + ((lf - 1) ** 2).mean()
                    fm = fm + sum((a.detach() - b).abs().mean() for a, b in zip(fr, ff, strict=True)) / len(fr)
                opt_g.zero_grad()
                (vae["loss"] + cfg.adv_weight * (g_adv + cfg.fm_weight * fm)).backward()
                opt_g.step()
        trained.append(flat(exp))
    torch.manual_seed(0)
    return trained, flat(VAEExperiment(recipe).double())


def test_adversarial_discriminators_see_what_they_are_meant_to():
    """The utterance discriminator judges an utterance's valid frames resampled to a fixed length
    (as the two-sample judge's log-mel does); the image one sees time x frequency patches."""
    from torch.nn import functional as F

    from training.adversarial import MultiScaleDiscriminator, time_normalise

    x, n = torch.randn(4, 60, 20), torch.tensor([2, 17, 59, 60])
    ref = [F.interpolate(x[i, : int(n[i])].T[None], size=32, mode="linear", align_corners=True)[0].T for i in range(4)]
    torch.testing.assert_close(time_normalise(x, n, 32), torch.stack(ref), atol=1e-4, rtol=1e-4)
    disc = MultiScaleDiscriminator(20, 16, (1, 2), ("1d", "2d", "utt", "delta"))
    digit = torch.tensor([0, 3, 5, 9])
    outs = disc(x, digit, n)
    assert len(outs) == 5  # two time scales, the frame-to-frame changes, the image, the utterance
    assert disc.families == ["1d", "1d", "delta", "2d", "utt"]  # what a per-family weight applies to
    steady = disc(x + 3.0, digit, n)  # a constant offset: the delta discriminator does not see it
    torch.testing.assert_close(steady[2][1], outs[2][1])
    assert not torch.allclose(steady[0][1], outs[0][1])
    utt_logit = outs[-1][1]
    assert utt_logit.shape == (4, 1) and outs[2][1].shape[0] == 4
    y = x.clone()
    y[0, 2:], y[1, 17:] = 5.0, -5.0  # frames past an utterance's end: not its business
    torch.testing.assert_close(disc(y, digit, n)[-1][1], utt_logit)
    assert not torch.allclose(disc(x, torch.tensor([1, 3, 5, 9]), n)[-1][1][0], utt_logit[0])  # it hears the digit
    assert len(MultiScaleDiscriminator(20, 16, (1, 2, 4))(x, digit, n)) == 3  # the default: time scales only
    pairs = MultiScaleDiscriminator(20, 16, (1,), ("delta2",))
    assert pairs.families == ["delta2"] and pairs(x, digit, n)[0][1].shape == (4, 8)  # 30 pair means, strided 4x
    with pytest.raises(ValueError, match="unknown discriminators"):
        MultiScaleDiscriminator(20, 16, (1,), ("1d", "3d"))


def test_run_folder_of_old_and_new_bundles(tmp_path):
    b = load_bundle(untrained_bundle("mlp", tmp_path / "b"))
    b.meta["training"] = {"run": "cvae-gpu"}
    assert run_folder(b) == tdata.runs_dir() / "cvae-gpu"
    b.meta["training"] = {"log_dir": "/home/someone/.cache/vaesynth/runs/mlp"}  # shipped before: absent here
    assert run_folder(b) == tdata.runs_dir() / "mlp"
    b.meta["training"] = {"log_dir": str(tmp_path)}
    assert run_folder(b) == tmp_path


@requires_fsdd
def test_real_fsdd_loads_with_a_clean_report():
    ds = tdata.load_dataset(REAL_FSDD, CFG, limit_per_digit_speaker=1)
    assert len(ds.speakers) == 6 and len(ds) == 60
    assert ds.report.loaded == 60 and not ds.report.skipped
