"""Knobs in order of effect: the panel shows the dials strongest first (the effect size that
annotation stores per knob), folds the ones with no clear effect under "More", and changes only
where a dial sits: knob ``i`` is still latent dimension ``i`` in every knob vector and recipe.
Bundles annotated before the effect size was measured still load and keep latent order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from vaesynth.app.knob_labels import display_order, effect_size, short_label  # noqa: E402
from vaesynth.app.knobs import KnobPanel  # noqa: E402
from vaesynth.model.bundle import BundleError, load_bundle  # noqa: E402
from vaesynth.model.catalog import resources_dir  # noqa: E402
from vaesynth.voices.voice import KnobSpace  # noqa: E402

SHIPPED = resources_dir() / "models"


def entry(i: int, label: str, change_db: float | None) -> dict:
    effects = {"duration_pct": 1.0, "loudness_db": 0.1}
    if change_db is not None:
        effects["change_db"] = change_db
    return {"label": f"z{i + 1}: {label}", "effects": effects}


LABELS = [
    entry(0, "no clear effect", 0.9),
    entry(1, "slower", 1.5),
    entry(2, "higher pitch, brighter", 3.0),
    entry(3, "no clear effect", 1.2),
    entry(4, "more like theo", 2.0),
    entry(5, "louder", 1.5),  # ties with z2: latent order between them
]


def test_display_order_is_strongest_first_with_the_unclear_ones_apart() -> None:
    main, more = display_order(LABELS, len(LABELS))
    assert main == [2, 4, 1, 5]
    assert more == [3, 0], "the knobs with no clear effect, strongest first too"
    assert sorted(main + more) == list(range(len(LABELS)))


def test_without_effect_sizes_the_order_is_the_latent_order() -> None:
    old = [entry(i, e["label"].split(": ", 1)[1], None) for i, e in enumerate(LABELS)]
    assert display_order(old, len(old)) == (list(range(len(old))), [])
    assert display_order([], 4) == ([0, 1, 2, 3], []), "a bundle without labels"
    partly = [*LABELS[:5], old[5]]
    assert display_order(partly, 6) == (list(range(6)), []), "one knob unmeasured: no ranking at all"
    assert effect_size(LABELS[2]) == 3.0 and effect_size(old[2]) is None and effect_size(None) is None


def test_a_label_of_two_effects_reads_as_two_lines() -> None:
    assert short_label(LABELS[2]) == "higher pitch\nbrighter"
    assert short_label(entry(0, "faster, more like theo", 1.0)) == "faster\nlike theo"


def test_the_panel_shows_the_stored_order_and_folds_more(qtbot) -> None:  # noqa: ANN001
    panel = KnobPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.set_latent_dim(len(LABELS))
    panel.set_labels(LABELS)
    panel.show()
    assert panel.order == [2, 4, 1, 5, 3, 0]
    shown = panel.grid.widgets()
    assert [k.index for k in shown] == [2, 4, 1, 5]
    assert [k.index for k in panel.more_grid.widgets()] == [3, 0]
    assert panel.more.isVisible() and panel.more.text() == "More (2)" and "no clear effect" in panel.more.toolTip()
    assert not panel.more_shown() and not panel.more_grid.isVisible(), "More starts folded"
    panel.more.click()
    assert panel.more_shown() and panel.more_grid.isVisible()
    assert "number 1 by effect size" in panel.knobs[2].dial.toolTip()
    assert panel.knobs[2].effect.objectName() == "knobEffectStrong"
    assert panel.knobs[0].effect.objectName() == "knobEffect", "a folded knob is not among the strongest"


def test_turning_the_first_dial_shown_moves_its_own_latent(qtbot) -> None:  # noqa: ANN001
    panel = KnobPanel()
    qtbot.addWidget(panel)
    panel.set_latent_dim(len(LABELS))
    panel.set_labels(LABELS)
    first = panel.grid.widgets()[0]
    with qtbot.waitSignal(panel.knobs_changed) as sig:
        first.dial.setValue(150)  # as a user turning it
    assert first.index == 2
    assert sig.args[0] == [0.0, 0.0, 1.5, 0.0, 0.0, 0.0], "the vector stays in latent order"
    panel.set_values([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # a recipe or saved voice: value i on knob i
    assert [round(panel.knobs[i].value(), 6) for i in range(6)] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert panel.values() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


@pytest.mark.skipif(not (SHIPPED / "cvae").is_dir(), reason="needs the shipped default model")
def test_the_shipped_default_model_is_ranked_and_knob_i_is_latent_i(qtbot) -> None:  # noqa: ANN001
    b = load_bundle(SHIPPED / "cvae")
    labels = b.knob_labels
    sizes = [effect_size(e) for e in labels]
    assert all(s is not None and s > 0 for s in sizes), "re-annotate: vaesynth-train annotate --model cvae"
    main, more = display_order(labels, b.latent_dim)
    assert more and all(labels[i]["label"].endswith("no clear effect") for i in more)
    assert [sizes[i] for i in main] == sorted((sizes[i] for i in main), reverse=True)
    panel = KnobPanel()
    qtbot.addWidget(panel)
    panel.set_latent_dim(b.latent_dim)
    panel.set_labels(labels)
    top = panel.order[0]
    assert top != 0, "the strongest knob of the shipped model is not z1: the order is not the latent order"
    knobs = np.zeros(b.latent_dim)
    knobs[top] = 1.0
    panel.set_values(knobs)
    space = KnobSpace.from_stats(b.stats, b.speakers)
    z = space.to_latent(3, panel.values()) - space.to_latent(3, np.zeros(b.latent_dim))
    chol = b.stats.digit_chol[3].double().numpy()
    np.testing.assert_allclose(z, chol[:, top], atol=1e-5)


def test_a_bundle_annotated_before_effect_sizes_loads_in_latent_order(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    if not (SHIPPED / "mlp").is_dir():
        pytest.skip("needs the shipped mlp bundle")
    folder = tmp_path / "old"
    shutil.copytree(SHIPPED / "mlp", folder)
    config = json.loads((folder / "config.json").read_text())
    for e in config["knob_labels"]:
        e["effects"].pop("change_db", None)
        e["label"] = e["label"].split(",")[0]  # one word, as they were
    (folder / "config.json").write_text(json.dumps(config))
    b = load_bundle(folder)
    assert b.knob_labels and all(effect_size(e) is None for e in b.knob_labels)
    panel = KnobPanel()
    qtbot.addWidget(panel)
    panel.set_latent_dim(b.latent_dim)
    panel.set_labels(b.knob_labels)
    assert panel.order == list(range(b.latent_dim)) and panel.folded == []
    assert not panel.more.isVisibleTo(panel)
    assert "by effect size" not in panel.knobs[0].dial.toolTip()


def test_a_negative_effect_size_is_refused(tmp_path: Path) -> None:
    if not (SHIPPED / "mlp").is_dir():
        pytest.skip("needs the shipped mlp bundle")
    folder = tmp_path / "bad"
    shutil.copytree(SHIPPED / "mlp", folder)
    config = json.loads((folder / "config.json").read_text())
    config["knob_labels"][0]["effects"]["change_db"] = -1.0
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="change_db"):
        load_bundle(folder)
