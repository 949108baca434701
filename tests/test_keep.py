"""Voices you keep and recipes that render a WAV again sample for sample (vaesynth.voices.keep, `say --recipe`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.bundling import untrained_bundle
from vaesynth.engine.performance import Performance
from vaesynth.voices.keep import (
    KeepError,
    RenderRecipe,
    SavedVoice,
    list_voices,
    load_voice,
    read_recipe,
    save_voice,
    sidecar,
    write_wav_with_recipe,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_bundle("cvae", Path(tmp_path_factory.mktemp("m")) / "cvae", speakers=("ann", "bob"))


@pytest.fixture
def voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "voices"
    monkeypatch.setenv("VAESYNTH_VOICES", str(folder))
    return folder


def samples(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="int16")[0]


def test_a_recipe_renders_the_wav_again_sample_for_sample(run, model: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert run("say", "+1 (415) 555-0123", "--model", str(model), "-o", str(a), "--pitch", "2")[0] == 0
    recipe = read_recipe(a)  # kept inside the WAV, with the random seed that was drawn
    assert recipe.seed is not None and recipe.text == "+1 (415) 555-0123" and recipe.performance.pitch == 2
    assert run("say", "--recipe", str(a), "-o", str(b))[0] == 0
    np.testing.assert_array_equal(samples(a), samples(b))
    (tmp_path / "r.json").write_text(json.dumps(recipe.to_dict()))
    assert run("say", "--recipe", str(tmp_path / "r.json"), "-o", str(tmp_path / "c.wav"))[0] == 0
    np.testing.assert_array_equal(samples(a), samples(tmp_path / "c.wav"))


def test_recipes_and_voices_keep_the_formant_ratio(run, model: Path, tmp_path: Path, voices: Path) -> None:
    a, b, old = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "old.json"
    code, _, _ = run("say", "307", "--model", str(model), "-o", str(a), "--formant", "1.25", "--save-voice", "Tall")
    assert code == 0 and read_recipe(a).performance.formant == 1.25
    assert load_voice("Tall").performance.formant == 1.25 and load_voice("Tall").to_dict()["performance"]["formant"]
    assert run("say", "--recipe", str(a), "-o", str(b))[0] == 0
    np.testing.assert_array_equal(samples(a), samples(b))
    assert run("say", "307", "--voice", "Tall", "--seed", "1", "-o", str(b))[0] == 0
    assert read_recipe(b).performance.formant == 1.25  # the voice brings its formants
    # a recipe from before the control (no "formant" key) reads as 1.0 and renders as it did
    assert run("say", "52", "--model", str(model), "--seed", "2", "-o", str(a))[0] == 0
    d = read_recipe(a).to_dict()
    assert "formant" not in d["performance"]
    old.write_text(json.dumps(d))
    assert read_recipe(old).performance.formant == 1.0
    assert run("say", "--recipe", str(old), "-o", str(b))[0] == 0
    np.testing.assert_array_equal(samples(a), samples(b))
    code, _, err = run("say", "1", "--model", str(model), "--formant", "3", "-o", str(b))
    assert code == 2 and len(err) == 1 and "formant" in err[0]
    d["performance"]["formant"] = "big"
    old.write_text(json.dumps(d))
    with pytest.raises(KeepError, match="formant"):
        read_recipe(old)
    code, _, err = run("sample", "--per-digit", "1", "--out", str(tmp_path / "s"), "--formant", "0.8",
                       "--model", str(model))  # fmt: skip
    assert code == 0 and read_recipe(tmp_path / "s" / "3_0.wav").performance.formant == 0.8


def test_sampled_wavs_carry_their_recipes(run, model: Path, tmp_path: Path) -> None:
    assert run("sample", "--per-digit", "1", "--out", str(tmp_path / "s"), "--model", str(model), "--seed", "4")[0] == 0
    src = tmp_path / "s" / "7_0.wav"
    recipe = read_recipe(src)
    assert recipe.single and recipe.text == "7" and recipe.knobs is not None
    assert run("say", "--recipe", str(src), "-o", str(tmp_path / "again.wav"))[0] == 0
    np.testing.assert_array_equal(samples(src), samples(tmp_path / "again.wav"))


def test_a_saved_voice_reloads_bit_identically(run, model: Path, tmp_path: Path, voices: Path) -> None:
    code, out, _ = run("say", "42", "--model", str(model), "-o", str(tmp_path / "x.wav"), "--save-voice", "Mine 1")
    assert code == 0 and "saved voice 'Mine 1'" in out
    assert list_voices() == ["Mine 1"]
    v = load_voice("Mine 1")
    assert SavedVoice.from_dict(v.to_dict()) == v
    outs = []
    for extra in (["--voice", "Mine 1"], ["--voice", "Mine 1"], ["--voice-file", str(voices / "Mine 1.json")]):
        path = tmp_path / f"v{len(outs)}.wav"
        assert run("say", "90210", "--seed", "3", "-o", str(path), *extra)[0] == 0  # the voice brings its model
        outs.append(samples(path))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    assert run("voices", "--rename", "Mine 1", "Other")[0] == 0 and list_voices() == ["Other"]
    assert run("voices", "--delete", "Other")[0] == 0 and list_voices() == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not a readable"),
        ('{"format": "vaesynth-voice", "version": 1, "name": "x", "model": "cvae", "knobs": "loud"}', "knobs"),
        ('{"format": "vaesynth-voice", "version": 1, "name": "\\u001b[31m", "model": "cvae", "knobs": [1]}', "name"),
        ('{"format": "vaesynth-voice", "version": 1, "name": "x", "model": "cvae", "knobs": [1], "temperature": 1e9}',
         "temperature"),
        ("[1, 2]", "is not a voice"),
    ],
)  # fmt: skip
def test_broken_voice_files_are_one_line(run, tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(content)
    with pytest.raises(KeepError, match=match):
        load_voice(path)
    code, _, err = run("say", "12", "--voice-file", str(path), "-o", str(tmp_path / "o.wav"))
    assert code == 2 and len(err) == 1 and not (tmp_path / "o.wav").exists()


def test_bad_recipes_are_one_line(run, model: Path, tmp_path: Path) -> None:
    good = RenderRecipe("12", str(model), "0" * 16, seed=1)
    cases = {
        "other-weights": good.to_dict(),
        "bad-text": {**good.to_dict(), "text": "12a"},
        "bad-seed": {**good.to_dict(), "seed": -1},
        "bad-performance": {**good.to_dict(), "performance": {"pitch": 40, "speed": 1, "note_hz": None, "contour": 1}},
        "not-a-recipe": {"hello": 1},
    }
    for name, d in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(d))
        code, _, err = run("say", "--recipe", str(path), "-o", str(tmp_path / "o.wav"))
        assert code == 2 and len(err) == 1, (name, err)
    plain = tmp_path / "plain.wav"
    sf.write(str(plain), np.zeros(800), 8000)
    code, _, err = run("say", "--recipe", str(plain), "-o", str(tmp_path / "o.wav"))
    assert code == 2 and "carries no vaesynth recipe" in err[0]
    assert run("say", "12", "--recipe", str(plain))[0] == 2  # digits and a recipe: which one?


def test_a_recipe_records_a_lighter_phase_and_renders_it_again(model: Path, tmp_path: Path) -> None:
    from vaesynth.engine.synth import LIVE_GL_ITERS, Synth

    synth = Synth.from_path(model)
    knobs = tuple(float(x) for x in np.linspace(-1, 1, synth.latent_dim, dtype=np.float32))
    full = RenderRecipe("3", str(model), "0" * 16, knobs=knobs, single=True)
    live = RenderRecipe("3", str(model), "0" * 16, knobs=knobs, single=True, gl_iters=LIVE_GL_ITERS)
    assert "gl_iters" not in full.to_dict()  # the default reads as recipes always did
    again = RenderRecipe.from_dict(json.loads(live.to_json()))
    assert again == live
    a, b = live.render(synth).wave, again.render(synth).wave
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, full.render(synth).wave)  # fewer iterations: other samples
    for bad in (-1, 1.5, "16", True, 10**6):
        with pytest.raises(KeepError, match="gl_iters"):
            RenderRecipe.from_dict({**live.to_dict(), "gl_iters": bad})


def test_a_recipe_too_long_for_the_wav_goes_beside_it(tmp_path: Path) -> None:
    knobs = tuple(float(x) for x in np.linspace(-2, 2, 256, dtype=np.float32))
    recipe = RenderRecipe("5", "cvae", "0" * 16, knobs=knobs, single=True, performance=Performance())
    assert len(recipe.to_json()) > 2000
    write_wav_with_recipe(tmp_path / "long.wav", np.zeros(800), 8000, recipe)
    assert sidecar(tmp_path / "long.wav").is_file()
    assert read_recipe(tmp_path / "long.wav") == recipe


def test_voice_names_are_checked(voices: Path) -> None:
    for bad in ("", "../escape", "a/b", "x" * 80, "\x1b"):
        with pytest.raises(KeepError):
            save_voice(SavedVoice(bad, "cvae", (0.0,)))
