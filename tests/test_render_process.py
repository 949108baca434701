"""vaesynth.app.render_process: rendering in a child process gives the same samples, reports bad
input as ValueError, and the engine falls back to its own thread when the child is gone."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vaesynth.app.render_process import RenderProcess
from vaesynth.engine.synth import Synth
from vaesynth.model.catalog import resolve_model
from vaesynth.voices.keep import RenderRecipe


def wait_ready(proc: RenderProcess, timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while not proc.ready:
        assert not proc.failed, proc.failed
        assert time.monotonic() < end, "the render process did not start"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mlp_path() -> str:
    return str(resolve_model("mlp"))


def test_child_renders_what_this_process_renders(mlp_path: str) -> None:
    synth = Synth.from_path(mlp_path)
    proc = RenderProcess(mlp_path)
    try:
        wait_ready(proc)
        knobs = tuple(float(v) for v in np.linspace(-1.0, 1.0, synth.latent_dim))
        single = RenderRecipe("7", model="mlp", knobs=knobs, single=True)
        string = RenderRecipe("2025", model="mlp", seed=11)
        for recipe in (single, string):
            here, there = recipe.render(synth), proc.render(recipe)
            assert np.array_equal(here.wave, there.wave) and here.digits == there.digits
            assert np.array_equal(here.features, there.features)
        with pytest.raises(ValueError, match="digit"):
            proc.render(RenderRecipe("12a", model="mlp", seed=1))
        proc.warm()  # answers, changes nothing heard
        assert np.array_equal(proc.render(single).wave, single.render(synth).wave)
    finally:
        proc.close()
    assert not proc.ready or proc.failed == ""  # closed without raising


def test_a_broken_bundle_or_a_dead_child_is_reported_not_raised(tmp_path, mlp_path: str) -> None:  # noqa: ANN001
    broken = RenderProcess(str(tmp_path / "no-such-bundle"))
    end = time.monotonic() + 120
    while not broken.failed and time.monotonic() < end:
        assert not broken.ready
        time.sleep(0.05)
    assert broken.failed and not broken.ready
    broken.close()

    proc = RenderProcess(mlp_path)
    wait_ready(proc)
    proc.close()  # the child is gone: a render says so as a RuntimeError (the engine then renders itself)
    with pytest.raises(RuntimeError):
        proc.render(RenderRecipe("3", model="mlp", seed=1))
