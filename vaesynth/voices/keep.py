"""Voices you keep and sounds you can make again: saved voices and render recipes.

**Saved voices** are small JSON files in the user's config folder (``$VAESYNTH_VOICES``, else
``$XDG_CONFIG_HOME/vaesynth/voices``, else ``~/.config/vaesynth/voices``): a name, the model, the
knobs, the temperature and the performance (pitch, speed, note, formant). Save, load, list, rename, delete;
``vaesynth say 2025 --voice NAME`` or ``--voice-file my.json`` speaks in one.

**Recipes** say exactly how a sound was made: the model (and a fingerprint of its weights), the
text, the seed, the knobs or voice, the temperature and the performance. Every WAV that vaesynth
writes carries its recipe as JSON in the WAV's comment field (the RIFF INFO ``ICMT`` chunk that
libsndfile writes), and ``vaesynth say --recipe x.wav`` (or a ``.json`` recipe) renders the same
samples again. Both are untrusted input when read back: every field is type- and range-checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..digits import parse_digits
from ..engine.performance import Performance

if TYPE_CHECKING:
    from ..engine.synth import Render, Synth

FORMAT = "vaesynth-recipe"
VOICE_FORMAT = "vaesynth-voice"
VOICES_ENV = "VAESYNTH_VOICES"
MAX_FILE_BYTES = 64 << 10
MAX_DONORS = 8  # texture donors a recipe may name (vaesynth.model.texture.TextureSettings.k is at most 8)
MAX_COMMENT = 2000  # libsndfile keeps WAV comments up to ~2 KB; longer recipes go to a sidecar .json
NAME_RE = re.compile(r"^[\w][\w .'+-]{0,63}$")


class KeepError(ValueError):
    """A saved voice or recipe is missing, unreadable or invalid (one readable sentence)."""


def weights_fingerprint(folder: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a bundle's weights (which model made a sound)."""
    h = hashlib.sha256()
    with open(Path(folder) / "weights.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _short_floats(values) -> list[float]:  # noqa: ANN001
    """Knob values as the shortest decimals that give back the same float32 (what the engine renders)."""
    import numpy as np

    return [float(str(np.float32(v))) for v in values]


def _performance_dict(p: Performance) -> dict:
    d = {"pitch": p.pitch, "speed": p.speed, "note_hz": p.note_hz, "contour": p.contour}
    if p.formant != 1.0:  # absent means 1.0: recipes and voices from before the formant control read the same
        d["formant"] = p.formant
    return d


def _performance(d: object) -> Performance:
    if not isinstance(d, dict) or set(d) - {"pitch", "speed", "note_hz", "contour", "formant"}:
        raise KeepError("'performance' must hold pitch, speed, note_hz, contour and formant")
    try:
        return Performance(**d)
    except (TypeError, ValueError) as e:
        raise KeepError(f"invalid performance: {e}") from None


def _knobs(value: object, what: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= 256
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e3 for v in value)
    ):
        raise KeepError(f"{what} must be a list of at most 256 numbers")
    import numpy as np

    return tuple(float(v) for v in np.asarray(value, dtype=np.float32))  # the engine renders float32 knobs


def _read_json(path: Path, what: str) -> dict:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise KeepError(f"{path} is too large to be a {what}")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeepError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise KeepError(f"{path} is not a readable {what}: {' '.join(str(e).split())[:120]}") from None
    if not isinstance(data, dict):
        raise KeepError(f"{path} is not a {what}")
    return data


def _write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".vs-{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


# --- render recipes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderRecipe:
    """Everything that decides a rendered sound.

    ``text``: the digits as typed; ``single``: a keypad press (one digit with exactly ``knobs``,
    :meth:`Synth.render_digit`) rather than a string (:meth:`Synth.render_string`); ``model``: a
    shipped model name or a bundle folder; ``weights``: :func:`weights_fingerprint` of it.
    ``texture``: render with the model's texture bank (recipes written before the stage existed
    read as ``False``, so they still make their sound); ``donors``: the bank utterances each digit
    took its texture from, when the app held them (else the engine picks the nearest).
    """

    text: str
    model: str
    weights: str = ""
    seed: int | None = None
    knobs: tuple[float, ...] | None = None
    voice: str | None = None
    vary: bool = True
    temperature: float = 1.0
    single: bool = False
    performance: Performance = field(default_factory=Performance)
    gl_iters: int | None = None  # Griffin-Lim iterations, when not the engine's default (live edits)
    texture: bool = True
    donors: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["knobs"] = _short_floats(self.knobs) if self.knobs is not None else None
        d["performance"] = _performance_dict(self.performance)
        if self.gl_iters is None:
            del d["gl_iters"]  # the default: recipes read the same as before it existed
        if self.donors is None:
            del d["donors"]
        else:
            d["donors"] = list(self.donors)
        return {"format": FORMAT, "version": 1, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: object) -> RenderRecipe:
        """Parse and check a recipe (untrusted); :class:`KeepError` when invalid."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise KeepError("not a vaesynth recipe")
        if d.get("version") != 1:
            raise KeepError(f"recipe version {str(d.get('version'))[:10]} is not readable by this vaesynth")
        text, model = d.get("text"), d.get("model")
        if not isinstance(text, str) or not isinstance(model, str) or not model:
            raise KeepError("a recipe needs its text and its model")
        try:
            parse_digits(text)
        except ValueError as e:
            raise KeepError(f"the recipe's text: {e}") from None
        seed = d.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
            raise KeepError("the recipe's seed must be a whole number >= 0")
        voice, weights = d.get("voice"), d.get("weights", "")
        if (voice is not None and not isinstance(voice, str)) or not isinstance(weights, str):
            raise KeepError("the recipe's voice and weights must be text")
        temperature = d.get("temperature", 1.0)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise KeepError("the recipe's temperature must be a number")
        vary, single = d.get("vary", True), d.get("single", False)
        if not isinstance(vary, bool) or not isinstance(single, bool):
            raise KeepError("the recipe's vary and single must be true or false")
        knobs = _knobs(d.get("knobs"), "the recipe's knobs")
        if single and (knobs is None or len(parse_digits(text)) != 1):
            raise KeepError("a single-digit recipe needs one digit and its knobs")
        perf = _performance(d.get("performance", _performance_dict(Performance())))
        gl_iters = d.get("gl_iters")
        if gl_iters is not None:
            from ..engine.synth import check_gl_iters

            try:
                gl_iters = check_gl_iters(gl_iters)
            except ValueError as e:
                raise KeepError(f"the recipe's {e}") from None
        texture, donors = d.get("texture", False), d.get("donors")
        if not isinstance(texture, bool):
            raise KeepError("the recipe's texture must be true or false")
        if donors is not None:
            ok = isinstance(donors, list) and 0 < len(donors) <= MAX_DONORS and all(
                isinstance(j, int) and not isinstance(j, bool) and 0 <= j < 2**31 for j in donors
            )
            if not ok or not single:
                raise KeepError(f"the recipe's donors must be 1-{MAX_DONORS} bank indices of a single digit")
            donors = tuple(donors)
        return cls(
            text, model, weights, seed, knobs, voice, vary, float(temperature), single, perf, gl_iters, texture, donors
        )

    def render(self, synth: Synth) -> Render:
        """Render this recipe with ``synth`` (which must hold the recipe's model)."""
        import numpy as np

        if self.single:
            return synth.render_digit(
                parse_digits(self.text), np.asarray(self.knobs, np.float32), self.performance, gl_iters=self.gl_iters,
                texture=self.texture, donors=list(self.donors) if self.donors else None,
            )  # fmt: skip
        knobs = None if self.knobs is None else np.asarray(self.knobs, np.float32)
        return synth.render_string(
            self.text, knobs=knobs, vary=self.vary, temperature=self.temperature, seed=self.seed,
            voice=self.voice, performance=self.performance, gl_iters=self.gl_iters, texture=self.texture,
        )  # fmt: skip


def sidecar(path: str | Path) -> Path:
    """Where a WAV's recipe goes when it is too long for the WAV's comment: ``x.wav`` -> ``x.wav.json``."""
    return Path(f"{path}.json")


def write_wav_with_recipe(path: str | Path, wave, sample_rate: int, recipe: RenderRecipe) -> Path | None:  # noqa: ANN001
    """Write the WAV (:func:`vaesynth.sound.wavfile.write_wav`) with its recipe inside, or beside it if too long."""
    from ..sound.wavfile import STDOUT, write_wav

    text = recipe.to_json()
    fits = len(text) <= MAX_COMMENT
    written = write_wav(path, wave, sample_rate, comment=text if fits else None)
    if not fits and str(path) != STDOUT:
        _write_json(sidecar(written or path), recipe.to_dict())
    return written


def read_recipe(path: str | Path) -> RenderRecipe:
    """A recipe from a ``.json`` file, a WAV's comment or the WAV's sidecar; :class:`KeepError` if none."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return RenderRecipe.from_dict(_read_json(path, "recipe"))
    if sidecar(path).is_file():
        return RenderRecipe.from_dict(_read_json(sidecar(path), "recipe"))
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            comment = f.comment or ""
    except (OSError, RuntimeError, sf.LibsndfileError) as e:
        raise KeepError(f"cannot read {path}: {' '.join(str(e).split())[:120]}") from None
    try:
        return RenderRecipe.from_dict(json.loads(comment))
    except (json.JSONDecodeError, RecursionError):
        raise KeepError(f"{path} carries no vaesynth recipe") from None


# --- saved voices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedVoice:
    """A voice you keep: the model it belongs to, its knobs, temperature and performance."""

    name: str
    model: str
    knobs: tuple[float, ...]
    temperature: float = 1.0
    performance: Performance = field(default_factory=Performance)

    def to_dict(self) -> dict:
        return {
            "format": VOICE_FORMAT, "version": 1, "name": self.name, "model": self.model,
            "knobs": list(self.knobs), "temperature": self.temperature,
            "performance": _performance_dict(self.performance),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: object) -> SavedVoice:
        if not isinstance(d, dict) or d.get("format") != VOICE_FORMAT or d.get("version") != 1:
            raise KeepError("not a vaesynth voice file")
        name, model = d.get("name"), d.get("model")
        if not isinstance(name, str) or not NAME_RE.match(name) or not isinstance(model, str) or not model:
            raise KeepError("a voice needs a short name and its model")
        knobs = _knobs(d.get("knobs"), "a voice's knobs")
        if knobs is None:
            raise KeepError("a voice needs its knobs")
        temperature = d.get("temperature", 1.0)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 3:
            raise KeepError("a voice's temperature must be a number in 0..3")
        return cls(name, model, knobs, float(temperature), _performance(d.get("performance", {})))


def voices_dir() -> Path:
    """Where saved voices live (see the module doc)."""
    env = os.environ.get(VOICES_ENV, "")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "") or str(Path.home() / ".config")
    return Path(base) / "vaesynth" / "voices"


def _voice_path(name: str, folder: Path | None) -> Path:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise KeepError(f"{str(name)[:40]!r} is not a voice name (letters, digits, space . ' + - ; up to 64)")
    return (folder or voices_dir()) / f"{name}.json"


def save_voice(voice: SavedVoice, folder: Path | None = None) -> Path:
    """Write ``voice`` as ``<folder>/<name>.json`` (atomic; replaces a voice of the same name)."""
    SavedVoice.from_dict(voice.to_dict())  # the same checks as on reading
    return _write_json(_voice_path(voice.name, folder), voice.to_dict())


def load_voice(name_or_path: str | Path, folder: Path | None = None) -> SavedVoice:
    """A saved voice by name (in :func:`voices_dir`) or from a ``.json`` file path."""
    p = Path(name_or_path)
    path = p if p.suffix == ".json" or p.is_file() else _voice_path(str(name_or_path), folder)
    return SavedVoice.from_dict(_read_json(path, "voice"))


def list_voices(folder: Path | None = None) -> list[str]:
    """Names of the saved voices, sorted."""
    folder = folder or voices_dir()
    return sorted(p.stem for p in folder.glob("*.json") if NAME_RE.match(p.stem)) if folder.is_dir() else []


def rename_voice(old: str, new: str, folder: Path | None = None) -> Path:
    voice = load_voice(old, folder)
    target = _voice_path(new, folder)
    if target.exists():
        raise KeepError(f"a voice named {new!r} exists already")
    path = save_voice(SavedVoice(new, voice.model, voice.knobs, voice.temperature, voice.performance), folder)
    _voice_path(old, folder).unlink()
    return path


def delete_voice(name: str, folder: Path | None = None) -> None:
    path = _voice_path(name, folder)
    if not path.is_file():
        raise KeepError(f"no saved voice named {name!r}")
    path.unlink()
