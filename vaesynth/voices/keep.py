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

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..digits import parse_digits
from ..engine.performance import Performance
from ..sound.safeio import atomic_write, read_bounded

if TYPE_CHECKING:
    from ..engine.synth import Render, Synth

FORMAT = "vaesynth-recipe"
VOICE_FORMAT = "vaesynth-voice"
VOICES_ENV = "VAESYNTH_VOICES"
MAX_FILE_BYTES = 64 << 10
MAX_DONORS = 8  # texture donors a recipe may name (vaesynth.model.texture.TextureSettings.k is at most 8)
MAX_COMMENT = 2000  # libsndfile keeps WAV comments up to ~2 KB; longer recipes go to a sidecar .json
MAX_WAV_BYTES = 256 << 20  # a WAV read for its recipe (vaesynth writes at most a few MB)
NAME_RE = re.compile(r"[\w][\w .'+-]{0,63}")  # whole names only (fullmatch): no newline, no path
WEIGHTS_RE = re.compile(r"[0-9a-f]{16}")


class KeepError(ValueError):
    """A saved voice or recipe is missing, unreadable or invalid (one readable sentence)."""


def weights_fingerprint(folder: str | Path) -> str:
    """:func:`vaesynth.model.files.weights_fingerprint` (imported when called: this module stays light,
    the command line checks its input before torch loads)."""
    from ..model.files import weights_fingerprint as fingerprint

    return fingerprint(folder)


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


def _shown(path: object) -> str:
    text = str(path)
    return text if len(text) <= 80 else text[:38] + "..." + text[-38:]


def _read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path`` through the one bounded reader (:func:`vaesynth.sound.safeio.read_bounded`)."""
    try:
        data = json.loads(read_bounded(path, MAX_FILE_BYTES, what).decode("utf-8"))
    except FileNotFoundError:
        raise KeepError(f"{what} not found: {_shown(path)}") from None
    except OSError as e:
        raise KeepError(f"{_shown(path)} is not a readable {what}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise KeepError(f"{_shown(path)} is not a readable {what}: {' '.join(str(e).split())[:120]}") from None
    if not isinstance(data, dict):
        raise KeepError(f"{_shown(path)} is not a {what}")
    return data


def _write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())


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
            shown = repr(d.get("version"))[:12]
            raise KeepError(f"recipe version {shown} is not readable by this vaesynth (it reads 1)")
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
        if voice is not None and not isinstance(voice, str):
            raise KeepError("the recipe's voice must be text")
        if not isinstance(weights, str) or not WEIGHTS_RE.fullmatch(weights):
            raise KeepError("the recipe lacks the fingerprint of its model's weights (16 hex digits)")
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


def _beside(recipe: RenderRecipe, where: Path) -> RenderRecipe:
    """``recipe`` with a relative model folder resolved against the folder of the file that held it."""
    from dataclasses import replace

    from ..model.catalog import list_bundles

    model = Path(recipe.model)
    if model.is_absolute() or recipe.model in list_bundles():
        return recipe  # an absolute folder, or a model's name
    return replace(recipe, model=str((where.parent / model).absolute()))


def read_recipe(path: str | Path) -> RenderRecipe:
    """A recipe from a ``.json`` file, or from a WAV: its comment, else its sidecar; :class:`KeepError` if none.

    Each file is read once, through the bounded reader; a relative model folder in the recipe is
    resolved against the folder of the file that holds it.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _beside(RenderRecipe.from_dict(_read_json(path, "recipe")), path)
    import io

    import soundfile as sf

    try:
        blob = read_bounded(path, MAX_WAV_BYTES, "WAV with a recipe")
        with sf.SoundFile(io.BytesIO(blob)) as f:
            comment = f.comment or ""
    except FileNotFoundError:
        raise KeepError(f"recipe not found: {_shown(path)}") from None
    except OSError as e:
        raise KeepError(f"cannot read {_shown(path)}: {e.strerror or e}") from None
    except (RuntimeError, sf.LibsndfileError) as e:
        raise KeepError(f"cannot read {_shown(path)}: {' '.join(str(e).split())[:120]}") from None
    if not comment.strip() and sidecar(path).exists():  # a recipe too long for the comment lives beside the WAV
        return _beside(RenderRecipe.from_dict(_read_json(sidecar(path), "recipe")), path)
    try:
        return _beside(RenderRecipe.from_dict(json.loads(comment)), path)
    except (json.JSONDecodeError, RecursionError):
        raise KeepError(f"{_shown(path)} carries no vaesynth recipe") from None


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
        if not isinstance(name, str) or not is_voice_name(name) or not isinstance(model, str) or not model:
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


def is_voice_name(name: object) -> bool:
    """Whether ``name`` can name a saved voice: the whole of it matches :data:`NAME_RE`, and it is no file name."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None and not name.lower().endswith(".json")


def voice_path(name: str, folder: Path | None = None) -> Path:
    """Where the voice ``name`` is kept; :class:`KeepError` for a name that cannot be a voice's."""
    if not is_voice_name(name):
        shown = repr(str(name)[:40])
        if isinstance(name, str) and name.lower().endswith(".json"):
            raise KeepError(f"{shown} is a file name; a voice is named without '.json' (--voice-file reads files)")
        raise KeepError(f"{shown} is not a voice name (letters, digits, space . ' + - ; up to 64)")
    return (folder or voices_dir()) / f"{name}.json"


def save_voice(voice: SavedVoice, folder: Path | None = None) -> Path:
    """Write ``voice`` as ``<folder>/<name>.json`` (atomic; replaces a voice of the same name)."""
    SavedVoice.from_dict(voice.to_dict())  # the same checks as on reading
    return _write_json(voice_path(voice.name, folder), voice.to_dict())


def load_voice(name_or_path: str | Path, folder: Path | None = None) -> SavedVoice:
    """A saved voice by name (a ``str``: only ever in :func:`voices_dir`) or from a file (a :class:`Path`)."""
    path = name_or_path if isinstance(name_or_path, Path) else voice_path(name_or_path, folder)
    return SavedVoice.from_dict(_read_json(path, "voice"))


def list_voices(folder: Path | None = None) -> list[str]:
    """Names of the saved voices (``<name>.json`` regular files, or links to them), sorted."""
    folder = folder or voices_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if is_voice_name(p.stem) and p.is_file())


def rename_voice(old: str, new: str, folder: Path | None = None, reserved: tuple[str, ...] = ()) -> Path:
    """Rename the saved voice ``old`` (a name, never a path) to ``new`` (not one of ``reserved``: speakers)."""
    if new in reserved:
        raise KeepError(f"{new!r} is a speaker of the voice's model; --voice {new} would choose the speaker")
    voice = load_voice(str(old), folder)
    target = voice_path(new, folder)
    if target.exists():
        raise KeepError(f"a voice named {new!r} exists already")
    path = save_voice(SavedVoice(new, voice.model, voice.knobs, voice.temperature, voice.performance), folder)
    voice_path(old, folder).unlink()
    return path


def delete_voice(name: str, folder: Path | None = None) -> None:
    path = voice_path(name, folder)
    if not path.is_file():
        raise KeepError(f"no saved voice named {name!r}")
    path.unlink()
