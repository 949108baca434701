"""Bundles on disk (vaesynth.bundle): model resolution, listing, atomic config writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.export import untrained_bundle
from vaesynth.bundle import (
    MODELS_ENV,
    BundleError,
    list_bundles,
    load_bundle,
    read_config,
    resolve_model,
    save_bundle,
    update_config,
)
from vaesynth.models import MODEL_KINDS


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
    save_bundle(load_bundle(folder), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    load_bundle(folder)
