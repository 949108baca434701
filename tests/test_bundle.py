"""Bundles on disk (vaesynth.model.bundle): model resolution, listing, atomic config writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.bundling import untrained_bundle
from vaesynth.model.bundle import BundleError, load_bundle, read_config, save_bundle, update_config
from vaesynth.model.catalog import MODELS_ENV, list_bundles, resolve_model
from vaesynth.model.models import MODEL_KINDS


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("models"))
    for kind in ("mlp", "cnn", "cvae"):
        untrained_bundle(kind, root / kind, speakers=("alice", "bob"))
    return root


def test_resolve_model(models_dir: Path, tmp_path: Path) -> None:
    assert resolve_model("mlp", models_dir) == models_dir / "mlp"
    assert resolve_model(None, models_dir) == models_dir / "cvae"  # the default comes first
    assert resolve_model(str(models_dir / "cnn"), models_dir) == models_dir / "cnn"
    with pytest.raises(BundleError, match="'nope' not found"):
        resolve_model("nope", models_dir)
    with pytest.raises(BundleError, match="no models found"):
        resolve_model(None, tmp_path)




def test_listing_puts_the_default_kind_first(models_dir: Path) -> None:
    assert list(list_bundles(models_dir)) == list(MODEL_KINDS) == ["cvae", "cnn", "mlp"]


def test_models_env_overrides_the_shipped_folder(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODELS_ENV, str(models_dir))
    assert resolve_model("cnn") == models_dir / "cnn"
    monkeypatch.setenv(MODELS_ENV, str(models_dir / "nowhere"))
    with pytest.raises(BundleError, match="no models found"):
        resolve_model(None)


def test_update_config_is_atomic_and_keeps_the_rest(models_dir: Path, tmp_path: Path) -> None:
    folder = untrained_bundle("mlp", tmp_path / "m")
    before = read_config(folder)
    update_config(folder, metrics={"acc": 0.5})
    after = json.loads((folder / "config.json").read_text())
    assert after["metrics"] == {"acc": 0.5}
    assert {k: v for k, v in after.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]


def test_save_bundle_removes_temporaries_of_a_killed_write(tmp_path: Path) -> None:
    folder = untrained_bundle("mlp", tmp_path / "m")
    (folder / ".vs-deadbeef.tmp").write_bytes(b"half a file")  # what a SIGKILL mid-write leaves
    (folder / "weights.safetensors.tmp").write_bytes(b"older versions' name")
    (folder / "notes.tmp").write_text("the user's own file")  # not ours: kept
    save_bundle(load_bundle(folder), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "notes.tmp", "weights.safetensors"]
    load_bundle(folder)


def _hostile(tmp_path: Path, change) -> Path:
    """A copy of a valid cvae bundle with ``change(config)`` applied (returns the folder)."""
    folder = tmp_path / "hostile"
    untrained_bundle("cvae", folder)
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config) if isinstance(config, dict) else config)
    return folder


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        (("model", "params", "channels"), 1_000_000, "channels must be a whole number"),
        (("model", "params", "latent_dim"), 10**9, "latent_dim must be a whole number"),
        (("model", "params", "channels"), -4, "channels must be a whole number"),
        (("model", "params", "head"), "organ", "head must be one of"),
        (("model", "params", "extra"), 1, "unknown parameters"),
        (("spectral", "max_frames"), 10**7, "max_frames"),
        (("spectral", "n_fft"), 10**6, "n_fft"),
        (("spectral", "hop"), -64, "hop"),
        (("spectral", "peak"), float("nan"), "peak"),
        (("speakers",), 5, "speakers"),
        (("display_name",), "\x1b[2J\x1b[31mfake row", "control characters"),
        (("latent_dim",), 10**9, "latent_dim"),
    ],
)
def test_hostile_configs_are_refused_before_allocation(tmp_path: Path, field, value, match: str) -> None:
    def change(c: dict) -> None:
        node = c
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value

    with pytest.raises(BundleError, match=match) as info:
        load_bundle(_hostile(tmp_path, change))
    assert "\n" not in str(info.value)


def test_mlp_hidden_size_is_bounded_by_the_weight_count(tmp_path: Path) -> None:
    folder = untrained_bundle("mlp", tmp_path / "m")
    c = json.loads((folder / "config.json").read_text())
    c["model"]["params"]["hidden"] = 4096  # in range, but 150 M weights
    (folder / "config.json").write_text(json.dumps(c))
    with pytest.raises(BundleError, match="weights, at most"):
        load_bundle(folder)


def test_deeply_nested_config_is_one_line(tmp_path: Path) -> None:
    folder = untrained_bundle("mlp", tmp_path / "m")
    text = (folder / "config.json").read_text().rstrip()[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    (folder / "config.json").write_text(text)
    with pytest.raises(BundleError, match="nested too deeply"):
        read_config(folder)


def _rewrite_tensors(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "weights.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "weights.safetensors"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: t.update({"model.pos": t["model.pos"].to(__import__("torch").int8)}), "has type"),
        (lambda t: t.update({"model.pos": t["model.pos"].bool()}), "has type"),
        (lambda t: t["stats.digit_mean"].fill_(1e30), "absurdly large"),
        (lambda t: t["stats.post_var"].fill_(1e38), "posteriors are inconsistent"),
        (lambda t: t["stats.digit_chol"][3].fill_(0.0), "Cholesky"),
        (lambda t: t["stats.digit_chol"][3].fill_(0.5), "Cholesky"),  # not lower-triangular
    ],
)
def test_hostile_weights_and_statistics_are_refused(tmp_path: Path, change, match: str) -> None:
    folder = untrained_bundle("cvae", tmp_path / "c")
    _rewrite_tensors(folder, change)
    with pytest.raises(BundleError, match=match) as info:
        load_bundle(folder)
    assert "\n" not in str(info.value)
