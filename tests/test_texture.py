"""The texture stage (vaesynth/model/texture.py, texture_bank.py): the bank on disk, donor selection,
alignment, pitch following, and the stage inside the engine (the shipped default model carries a bank)."""

from __future__ import annotations

import json
import os
import stat
import struct

import numpy as np
import pytest

from vaesynth.model import texture, texture_bank
from vaesynth.model.texture import TextureSettings
from vaesynth.model.texture_bank import BankError, TextureBank, load_bank, save_bank

N_BINS, DIM = 9, 3


def small_bank(n_per_digit: int = 4, bits: int = 8, seed: int = 0) -> TextureBank:
    rng = np.random.default_rng(seed)
    n = 10 * n_per_digit
    lengths = rng.integers(5, 12, n)
    residuals = [rng.normal(0, 0.05, (k, N_BINS)).astype(np.float32) for k in lengths]
    codes, levels = texture_bank.quantise(residuals, bits)
    return TextureBank(
        codes=codes, levels=levels, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        latents=rng.normal(0, 1, (n, DIM)).astype(np.float32), variances=np.full((n, DIM), 0.01, np.float32),
        digits=np.repeat(np.arange(10), n_per_digit).astype(np.int64), speakers=np.zeros(n, np.int64),
        f0=rng.uniform(90, 200, int(lengths.sum())).astype(np.float32), mean=np.zeros((10, N_BINS), np.float32),
    )  # fmt: skip


# --- the bank on disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 4])
def test_bank_round_trip(tmp_path, bits):
    bank = small_bank(bits=bits)
    save_bank(bank, tmp_path / "b.safetensors")
    back = load_bank(tmp_path / "b.safetensors", N_BINS, DIM)
    for name in ("codes", "levels", "offsets", "latents", "variances", "digits", "speakers", "f0", "mean"):
        np.testing.assert_array_equal(getattr(back, name), getattr(bank, name))
    for i in (0, 7, len(bank) - 1):
        np.testing.assert_array_equal(back.residual(i), bank.residual(i))
        assert back.residual(i).shape == (bank.length(i), N_BINS)


@pytest.mark.parametrize("bits", [8, 4])
def test_quantised_residuals_stay_close(bits):
    rng = np.random.default_rng(1)
    res = [rng.laplace(0, 0.05, (400, N_BINS)).astype(np.float32) for _ in range(20)]
    codes, levels = texture_bank.quantise(res, bits)
    bank = TextureBank(
        codes, levels, np.arange(0, 8001, 400, dtype=np.int64), np.zeros((20, DIM), np.float32),
        np.ones((20, DIM), np.float32), np.arange(20) % 10, np.zeros(20, np.int64),
        np.full(8000, 100.0, np.float32), np.zeros((10, N_BINS), np.float32),
    )  # fmt: skip
    err = np.concatenate([bank.residual(i) - r for i, r in enumerate(res)])
    # 16 levels: error under a fifth of the spread; 256: under a twentieth
    assert np.sqrt((err**2).mean()) < (0.2 if bits == 4 else 0.05) * np.std(np.concatenate(res))


def _header_only_file(path, header: dict) -> None:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * 64)


def test_hostile_sizes_are_refused_before_allocation(tmp_path):
    """A header that declares a huge codes tensor is refused from the header alone (the file holds 64
    bytes of data: reading the tensor would fail or allocate gigabytes)."""
    big = {
        "__metadata__": {"format": texture_bank.BANK_FORMAT, "version": str(texture_bank.BANK_VERSION)},
        "bank.codes": {"dtype": "U8", "shape": [10**9, N_BINS], "data_offsets": [0, 9 * 10**9]},
    }
    _header_only_file(tmp_path / "big.safetensors", big)
    with pytest.raises(BankError) as e:
        load_bank(tmp_path / "big.safetensors", N_BINS, DIM)
    assert "texture bank" in str(e.value)


def test_bank_with_out_of_range_shapes_is_refused(tmp_path):
    bank = small_bank()
    save_bank(bank, tmp_path / "b.safetensors")
    with pytest.raises(BankError, match="frequency bins"):
        load_bank(tmp_path / "b.safetensors", N_BINS + 1, DIM)
    with pytest.raises(BankError, match="latents has shape"):
        load_bank(tmp_path / "b.safetensors", N_BINS, DIM + 1)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("offsets", lambda b: b.offsets[::-1].copy(), "offsets"),
        ("digits", lambda b: b.digits + 10, "digits"),
        ("f0", lambda b: np.full_like(b.f0, 5000.0), "f0"),
        ("levels", lambda b: np.full_like(b.levels, np.nan), "levels"),
        ("variances", lambda b: -b.variances, "variances"),
    ],
)
def test_bank_with_bad_values_is_refused(tmp_path, field, value, message):
    bank = small_bank()
    setattr(bank, field, value(bank))
    save_bank(bank, tmp_path / "b.safetensors")
    with pytest.raises(BankError, match=message):
        load_bank(tmp_path / "b.safetensors", N_BINS, DIM)


def test_bank_that_is_not_a_file_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(BankError, match="not a regular file"):
        load_bank(fifo, N_BINS, DIM)
    dev = tmp_path / "zero.safetensors"
    os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # a /dev/zero twin, made here
    with pytest.raises(BankError, match="not a regular file"):
        load_bank(dev, N_BINS, DIM)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(BankError, match="corrupt"):
        load_bank(tmp_path / "junk.safetensors", N_BINS, DIM)


def test_settings_are_checked():
    assert TextureSettings.from_dict({"k": 2, "align": "linear"}) == TextureSettings(k=2, align="linear")
    for bad in ({"k": 0}, {"k": True}, {"align": "spline"}, {"gain": float("nan")}, {"gain": 5}, {"x": 1}, []):
        with pytest.raises(BankError):
            TextureSettings.from_dict(bad)


# --- selection, alignment, pitch, blending -----------------------------------------------------------------


def test_selection_excludes_the_anchor_and_takes_the_digits_nearest():
    bank = small_bank(n_per_digit=8)
    rng = np.random.default_rng(3)
    for i in range(len(bank)):
        d = int(bank.digits[i])
        # a fresh draw from utterance i's posterior: z ~ N(mu_i, var_i)
        z = bank.latents[i] + rng.normal(0, 1, DIM) * np.sqrt(bank.variances[i])
        donors = bank.select(d, z, None, k=3, typical=6.0)
        assert i not in donors
        assert all(bank.digits[j] == d for j in donors)
        # the rest: nearest first, none that holds z as a typical draw of its own posterior either
        limit = DIM + 6.0 * np.sqrt(2 * DIM)
        others = [j for j in np.flatnonzero(bank.digits == d)
                  if (((bank.latents[j] - z) ** 2) / bank.variances[j]).sum() >= limit]  # fmt: skip
        dist = {j: float(((bank.latents[j] - z) ** 2).sum()) for j in others}
        assert donors == sorted(others, key=dist.get)[:3]


def test_when_every_donor_is_too_close_the_least_close_are_used():
    bank = small_bank(n_per_digit=1)  # one utterance per digit: a draw from it always holds it
    only = int(np.flatnonzero(bank.digits == 0)[0])
    assert bank.select(0, bank.latents[only], None, k=1, typical=6.0) == [only]
    bank = small_bank(n_per_digit=3)
    rows = np.flatnonzero(bank.digits == 0)
    z = bank.latents[rows].mean(0)
    maha = (((bank.latents[rows] - z) ** 2) / bank.variances[rows]).sum(1)
    picked = bank.select(0, z, None, k=2, typical=1e6)  # nothing is far enough at this threshold
    assert picked == [int(i) for i in rows[np.argsort(-maha)[:2]]]


def test_dtw_recovers_a_known_time_warp():
    rng = np.random.default_rng(0)
    src = rng.random((50, 20)).astype(np.float32)
    warp = np.clip(np.rint(np.linspace(0, 1, 70) ** 1.5 * 49), 0, 49).astype(int)
    out = src[warp] + 0.01 * rng.random((70, 20)).astype(np.float32)
    path = texture.align_path(out, src, band=0.5)
    assert path[0] == 0 and path[-1] == 49
    assert (np.diff(path) >= 0).all()
    assert (path == warp).mean() > 0.95
    assert (texture.linear_path(70, 50) == warp).mean() < 0.5  # a linear stretch would not


def test_pitch_following_moves_the_harmonic_ripple_and_keeps_the_envelope():
    n_bins, bin_hz = 129, 31.25
    hz = np.arange(n_bins) * bin_hz
    ripple = np.cos(2 * np.pi * hz / 125.0)  # peaks at every harmonic of 125 Hz
    tilt = np.linspace(0.2, -0.2, n_bins)
    res = np.tile(0.05 * ripple + tilt, (4, 1)).astype(np.float32)
    out = texture.follow_pitch(res, np.full(4, 125.0), np.full(4, 187.5))
    env, fine = texture.split_envelope(out)
    target = np.cos(2 * np.pi * hz / 187.5)
    mid = slice(10, 100)
    assert np.corrcoef(fine[0, mid], target[mid])[0, 1] > 0.8
    assert np.corrcoef(fine[0, mid], ripple[mid])[0, 1] < 0.3
    np.testing.assert_allclose(env[0, mid], tilt[mid], atol=0.02)


def test_blend_keeps_the_texture_depth():
    rng = np.random.default_rng(0)
    parts = [rng.normal(0, 1, (200, 50)) for _ in range(3)]
    assert abs(texture.blend(parts).std() - 1.0) < 0.05
    assert np.mean(parts, axis=0).std() < 0.7  # what an average would do


# --- the stage in the engine (the shipped default model's bank) ------------------------------------------------


@pytest.fixture(scope="module")
def synth():
    from vaesynth.engine.synth import Synth

    s = Synth.from_path("cvae")
    if not s.has_texture:
        pytest.fail("the shipped default model has no texture bank")
    return s


def test_shipped_bank_is_small_and_holds_every_digit(synth):
    bank = synth.bundle.texture
    size = os.path.getsize(synth.bundle.path / texture_bank.BANK_FILE)
    assert size <= 6_000_000  # the bank adds at most 6 MB to the shipped bundles
    assert set(np.unique(bank.digits)) == set(range(10))


def test_recipe_reproduces_a_render_sample_for_sample(synth):
    from vaesynth.voices.keep import RenderRecipe

    rec = RenderRecipe("2025", "cvae", seed=7)
    a, b = rec.render(synth), rec.render(synth)
    np.testing.assert_array_equal(a.wave, b.wave)
    knobs = synth.knobs.fresh(4, 1.0, 11)
    one = RenderRecipe("4", "cvae", knobs=tuple(float(x) for x in knobs), single=True)
    np.testing.assert_array_equal(one.render(synth).wave, one.render(synth).wave)


def test_the_stage_can_be_turned_off(synth):
    from vaesynth.engine.synth import Synth

    plain = Synth(synth.bundle, texture=False)
    assert not plain.has_texture
    u = synth.knobs.fresh(7, 1.0, 5)
    with_bank = synth.decode([7], [u])[0]
    without = plain.decode([7], [u])[0]
    assert with_bank.shape == without.shape
    assert np.abs(with_bank - without).mean() > 0.01  # the residual is really added
    # off = the pure decoder: the model's own output, trimmed
    import torch

    z = torch.from_numpy(synth.knobs.to_latents([7], u[None]))
    with torch.inference_mode():
        ref = synth.bundle.model.decode(z, torch.tensor([7])).features[0, : len(without)].numpy()
    np.testing.assert_allclose(without, ref, atol=1e-6)


def test_donors_can_be_held(synth):
    u = synth.knobs.fresh(3, 1.0, 2)
    first = synth.render_digit(3, u).donors[0]
    moved = u + 0.8
    assert synth.render_digit(3, moved).donors[0] != first  # left alone, the nearest donor changes
    held = synth.render_digit(3, moved, donors=first)
    assert held.donors[0] == first
    with pytest.raises(ValueError, match="donors"):
        synth.render_digit(3, u, donors=[len(synth.bundle.texture) + 5])
    assert synth.render_digit(3, u, texture=False).donors == [[]]


@pytest.mark.parametrize("pitch", [-12, 12])
def test_pitch_shifted_renders_keep_periodicity(synth, pitch):
    """An octave up or down, the texture follows the played comb: voiced frames keep at least 85% of
    the pure decoder's periodicity (measured: 0.89 an octave down, 0.96 up; without pitch following
    the donor's ripple sits between the played harmonics)."""
    from vaesynth.dsp.pitch import pitch_track
    from vaesynth.engine.performance import Performance

    plain = type(synth)(synth.bundle, texture=False)
    rng = np.random.default_rng(0)
    ratios = []
    for d in range(10):
        u = synth.knobs.fresh(d, 1.0, rng)
        perf = Performance(pitch=float(pitch))
        per_on = pitch_track(synth.render_digit(d, u, perf).wave, synth.spectral)[1]
        per_off = pitch_track(plain.render_digit(d, u, perf).wave, synth.spectral)[1]
        voiced = per_off > 0.5
        ratios.append(per_on[voiced].mean() / per_off[voiced].mean())
    assert np.mean(ratios) >= 0.85
