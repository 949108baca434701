"""The texture stage in the app: the Real texture box, and donors held while a knob turns.

The model is a small random-weight cvae bundle given a synthetic texture bank (the bank's data is
random too: what is tested is the plumbing, window -> engine -> recipe -> Synth, not the sound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from vaesynth.app.main_window import MainWindow  # noqa: E402
from vaesynth.app.messages import Origin  # noqa: E402
from vaesynth.app.settings import file_settings  # noqa: E402
from vaesynth.model.texture import TextureSettings  # noqa: E402
from vaesynth.model.texture_bank import TextureBank, quantise  # noqa: E402

WAIT_MS = 30_000


def synthetic_bank(latent_dim: int, n_bins: int, per_digit: int = 6) -> TextureBank:
    rng = np.random.default_rng(0)
    n = 10 * per_digit
    lengths = rng.integers(20, 40, n)
    codes, levels = quantise([rng.normal(0, 0.05, (k, n_bins)).astype(np.float32) for k in lengths], 4)
    # each digit's utterances lie along latent 0, so that turning knob 1 changes the nearest one
    latents = rng.normal(0, 0.05, (n, latent_dim)).astype(np.float32)
    latents[:, 0] = np.tile(np.linspace(-3, 3, per_digit), 10)
    return TextureBank(
        codes=codes, levels=levels, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        latents=latents,
        variances=np.full((n, latent_dim), 0.01, np.float32),
        digits=np.repeat(np.arange(10), per_digit).astype(np.int64), speakers=np.zeros(n, np.int64),
        f0=rng.uniform(90, 200, int(lengths.sum())).astype(np.float32), mean=np.zeros((10, n_bins), np.float32),
    )  # fmt: skip


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.bundling import untrained_bundle
    from vaesynth.model.bundle import load_bundle, save_bundle

    root = tmp_path_factory.mktemp("models")
    folder = untrained_bundle("cvae", root / "cvae")
    bundle = load_bundle(folder)
    bundle.texture = synthetic_bank(bundle.latent_dim, bundle.spectral.n_bins)
    # a small anchor radius: the synthetic bank is sparse, and its nearest donor should move with the knobs
    bundle.texture_settings = TextureSettings(typical=6.0)
    save_bundle(bundle, folder)
    return root


@pytest.fixture
def window(qtbot, qapp, models_root: Path, tmp_path: Path):  # noqa: ANN001 - pytest-qt fixtures
    w = MainWindow(file_settings(tmp_path / "settings.ini"), models_root=models_root)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS):
        w.show()
    yield w
    w.shutdown()


def _press(qtbot, w: MainWindow, digit: str):  # noqa: ANN001
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(w.keypad.buttons[digit], Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_donors_are_held_while_a_knob_turns(qtbot, window) -> None:  # noqa: ANN001
    w = window
    assert w.model_info.has_texture and w.view.keys.real_texture.isEnabled()
    w.auto_play.setChecked(False)
    first = _press(qtbot, w, "4")
    assert first.donors and first.recipe.texture and first.recipe.donors is None  # a press: nearest donors
    from vaesynth.engine.synth import Synth

    synth = Synth.from_path(w.model_info.path)
    left_alone = []
    for value in (150, -250, 300):
        with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
            w.knob_panel.knobs[0].dial.setValue(value)
        turned = blocker.args[0]
        assert turned.request.origin is Origin.KNOB
        assert turned.donors == first.donors, "the texture's donors must not change while the knob turns"
        assert turned.recipe.donors == first.donors  # so the WAV's recipe makes the same samples again
        left_alone.append(tuple(synth.render_digit(4, np.array(turned.knobs, np.float32)).donors[0]))
    assert any(d != first.donors for d in left_alone), "these turns would change the nearest donor"


def test_real_texture_box_turns_the_stage_off(qtbot, window) -> None:  # noqa: ANN001
    w = window
    w.auto_play.setChecked(False)
    on = _press(qtbot, w, "8")
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.view.keys.real_texture.setChecked(False)  # re-renders the voice on the knobs, like a performance change
    off = blocker.args[0]
    assert off.recipe.texture is False and off.donors == ()
    assert on.recipe.texture is True and on.donors
    w.hold_voice.setChecked(True)
    again = _press(qtbot, w, "8")
    assert again.recipe.texture is False
