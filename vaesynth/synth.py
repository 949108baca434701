"""The synth engine: a digit (or a digit string) and a knob vector -> a waveform.

Knob space
----------
The app's knobs are a vector ``u`` of ``latent_dim`` values in standard units (about -3..3).
For digit ``d`` the latent is ``z = digit_mean[d] + digit_chol[d] @ u``, i.e. ``u`` is a
whitened coordinate in the bundle's per-digit aggregate posterior (a Gaussian fitted to the
encoder means of that digit's training utterances). ``u = 0`` is the digit's typical voice.
This is how the unconditional baselines answer a digit request, and it keeps the
conditional model on the part of latent space it was trained on.

Rendering
---------
decode ``z`` (one batched forward pass under :func:`torch.inference_mode`) -> features
``(n_frames, n_bins)`` in [0, 1] and per-frame ``valid`` logits -> cut at the first frame
where ``valid < 0`` (keeping at least :data:`MIN_FRAMES`) -> linear magnitude -> fast
Griffin-Lim (:func:`vaesynth.spectral.griffin_lim`) -> waveform of ``n_frames * hop``
samples at the model rate, peak-normalised to ``spectral.peak`` (the training data's level)
with short raised-cosine fades at both ends, so that joins never click.

A digit string is rendered in one pass: all digits decoded as one batch, their spectrograms
laid end to end with silent gap frames (80-144 ms between digits, longer at the
separators of "415-555 0123"), one Griffin-Lim run over the whole timeline, then every digit
faded and levelled on its own. ``Render.features`` is that timeline, frame-aligned with the
waveform (frame ``i`` <-> samples ``i * hop .. (i + 1) * hop``).

Everything is deterministic given the inputs and ``seed``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import spectral

if TYPE_CHECKING:  # torch and the bundle loader are imported when a Synth is made, so that
    from .bundle import Bundle  # parse_digits & co. stay cheap to import (the CLI checks input first)

N_DIGITS = 10

MAX_DIGITS = 64  # longest string render_string accepts (bounded work)
MIN_FRAMES = 8  # a decoded utterance keeps at least this many frames (64 ms at 8 kHz / hop 64)
SEPARATORS = " \t\n\r-()+.,/"  # allowed in phone-number style input; they are dropped

# Defaults chosen by measurement (docs/engine.md, bench/bench_synth.py --phase).
DEFAULT_GL_ITERS = 48
DEFAULT_GL_INIT = "pghi"
DEFAULT_GL_MOMENTUM = 0.99

GAP_S = (0.080, 0.144)  # silence between digits (uniform)
GROUP_GAP_S = (0.220, 0.300)  # silence at a separator between digit groups
FADE_IN_S = 0.004
FADE_OUT_S = 0.012
VARY_SCALE = 0.35  # per-digit variation of the knobs (standard units, times temperature)


def parse_digit_groups(text: str, max_digits: int = MAX_DIGITS) -> list[str]:
    """Split phone-number style text into groups of digits: ``"(415) 555-0123"`` -> ``["415", "555", "0123"]``.

    Spaces, tabs, dashes, dots, commas, slashes, parentheses and ``+`` separate groups and are
    dropped. Raises :class:`ValueError` (one readable sentence) for non-text, no digits, any
    other character, or more than ``max_digits`` digits; the check is linear in the input and
    happens before any rendering.
    """
    if not isinstance(text, str):
        raise ValueError(f"digits must be text, not {type(text).__name__}")
    groups: list[str] = []
    current: list[str] = []
    n = 0
    for i, ch in enumerate(text):
        if "0" <= ch <= "9":
            current.append(ch)
            n += 1
        elif ch in SEPARATORS:
            if current:
                groups.append("".join(current))
                current = []
        else:
            shown = text if len(text) <= 24 else text[:20] + "..."
            raise ValueError(f"{shown!r} contains {ch!r} at position {i + 1}; only digits 0-9 can be spoken")
    if current:
        groups.append("".join(current))
    if n == 0:
        raise ValueError("no digits given" if not text.strip() else f"{text[:24]!r} contains no digits")
    if n > max_digits:
        raise ValueError(f"too many digits: {n} given, at most {max_digits} can be spoken at once")
    return groups


def parse_digits(text: str, max_digits: int = MAX_DIGITS) -> str:
    """Validate phone-number style text and return its digits only: ``"+1 (415) 555-0123"`` -> ``"14155550123"``.

    Raises :class:`ValueError` with a readable message for empty input, characters other than
    digits and separators (``"12a"``), or more than ``max_digits`` digits.
    """
    return "".join(parse_digit_groups(text, max_digits))


@dataclass
class Render:
    """One rendered sound.

    ``wave``: float32 ``(n_samples,)`` at ``sample_rate`` Hz (the model rate), peak <= 1.
    ``features``: float32 ``(n_frames, n_bins)`` in [0, 1], what was decoded (trimmed to the
    valid length; for strings concatenated with silent gap frames), aligned with ``wave``:
    ``n_samples == n_frames * hop``.
    ``digits``: the digits spoken. ``segments``: ``(start_s, end_s)`` of each digit in ``wave``.
    ``latents``: the knob vector ``u`` (float32 ``(latent_dim,)``) used for each digit.
    """

    wave: np.ndarray
    sample_rate: int
    features: np.ndarray
    digits: str
    segments: list[tuple[float, float]]
    latents: list[np.ndarray] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of ``wave`` in seconds."""
        return len(self.wave) / self.sample_rate


def resolve_model(model: str | Path | None = None, root: str | Path | None = None) -> Path:
    """A bundle folder from a shipped model name (``"cvae"``), a folder path, or ``None`` (the default model).

    Raises :class:`~vaesynth.bundle.BundleError` with a readable message when nothing matches.
    """
    from .bundle import BundleError, list_bundles

    bundles = list_bundles(root)
    if model is None or str(model) == "":
        if not bundles:
            where = Path(root) if root is not None else "resources/models"
            raise BundleError(f"no models found in {where}")
        return next(iter(bundles.values()))
    if str(model) in bundles:
        return bundles[str(model)]
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    known = ", ".join(bundles) or "none installed"
    raise BundleError(f"model {str(model)!r} not found (known models: {known}; or give a bundle folder)")


def _as_digit(digit: int | str) -> int:
    if isinstance(digit, str):
        if len(digit) != 1 or not "0" <= digit <= "9":
            raise ValueError(f"{digit!r} is not a single digit 0-9")
        return int(digit)
    if isinstance(digit, bool) or not isinstance(digit, int | np.integer):
        raise ValueError(f"digit must be an integer 0-9, not {digit!r}")
    if not 0 <= int(digit) < N_DIGITS:
        raise ValueError(f"digit must be 0-9, not {digit}")
    return int(digit)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine ramp 0 -> 1 over ``n`` samples (float32)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


class Synth:
    """Renders digits and digit strings from a loaded :class:`~vaesynth.bundle.Bundle`.

    ``gl_iters``, ``gl_init``, ``gl_momentum``: phase reconstruction settings (see
    :func:`vaesynth.spectral.griffin_lim`; defaults chosen by measurement, docs/engine.md).
    ``torch_threads``: calls ``torch.set_num_threads`` (process-wide) unless ``None``. One
    thread is the default: these models are small, a second thread buys little, and on a busy
    2-core machine multi-threaded kernels stall each other (and the GUI). It also lets
    :mod:`vaesynth.spectral` use torch's faster single-threaded FFT.

    Rendering methods are thread-safe (one render at a time).
    """

    def __init__(
        self,
        bundle: Bundle,
        gl_iters: int = DEFAULT_GL_ITERS,
        gl_init: str = DEFAULT_GL_INIT,
        gl_momentum: float = DEFAULT_GL_MOMENTUM,
        torch_threads: int | None = 1,
    ) -> None:
        import torch

        if gl_iters < 0:
            raise ValueError("gl_iters must be >= 0")
        if gl_init not in spectral.GL_INITS:
            raise ValueError(f"unknown Griffin-Lim init {gl_init!r}; known: {', '.join(spectral.GL_INITS)}")
        if torch_threads is not None and torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
        self._bundle = bundle
        self.gl_iters = int(gl_iters)
        self.gl_init = gl_init
        self.gl_momentum = float(gl_momentum)
        self._lock = threading.Lock()
        # optional per-bundle render settings (config.json "render"); absent: the engine defaults
        render = bundle.meta.get("render") or {}
        self.fade_in_s = float(render.get("fade_in_s", FADE_IN_S))
        self.fade_out_s = float(render.get("fade_out_s", FADE_OUT_S))
        # cut each digit's end by this much: ``n`` decoded frames describe about ``(n - 1/2) * hop``
        # samples of a trimmed recording, the rendered ``n * hop`` end in Griffin-Lim's decaying edge
        self.trim_end_s = float(render.get("trim_end_s", 0.0))
        s = bundle.stats
        self._digit_mean = s.digit_mean.double().numpy()  # (10, D)
        self._digit_chol = s.digit_chol.double().numpy()  # (10, D, D)
        self._speaker_digit_mean = s.speaker_digit_mean.double().numpy()  # (S, 10, D)
        self._post_mu = self._post_var = None
        if s.has_posteriors:  # the exact aggregate posterior (see random_knobs)
            self._post_mu = s.post_mu.double().numpy()  # (N, D)
            self._post_var = s.post_var.double().numpy()  # (N, D)
            post_digit = s.post_digit.numpy()
            self._post_rows = [np.flatnonzero(post_digit == d) for d in range(10)]
        bundle.model.eval()

    @classmethod
    def from_path(cls, path: str | Path | None = None, **kwargs) -> Synth:
        """Load a bundle by shipped name (``"cvae"``), folder path, or ``None`` for the default model.

        Raises :class:`~vaesynth.bundle.BundleError` when it is missing or invalid.
        """
        from .bundle import load_bundle

        return cls(load_bundle(resolve_model(path)), **kwargs)

    # --- properties ------------------------------------------------------------------------

    @property
    def bundle(self) -> Bundle:
        return self._bundle

    @property
    def latent_dim(self) -> int:
        return self._bundle.latent_dim

    @property
    def sample_rate(self) -> int:
        """The model rate in Hz (8000 for FSDD models)."""
        return self._bundle.spectral.sample_rate

    @property
    def speakers(self) -> list[str]:
        """Names of the voice presets (training speakers)."""
        return list(self._bundle.speakers)

    @property
    def spectral(self) -> spectral.SpectralConfig:
        return self._bundle.spectral

    # --- knob space ------------------------------------------------------------------------

    def random_knobs(
        self,
        temperature: float = 1.0,
        rng: np.random.Generator | int | None = None,
        digit: int | str | None = None,
    ) -> np.ndarray:
        """A random voice as a knob vector, float32 ``(latent_dim,)``.

        Without ``digit`` (or for bundles without stored posteriors): ``u ~ N(0, temperature^2 I)``,
        the per-digit Gaussian. With ``digit``: a draw from that digit's exact aggregate posterior,
        the mixture of the training utterances' posteriors ``N(mu_i, var_i)`` (pick one utterance
        of the digit, then sample around it), scaled by ``temperature`` about the digit mean and
        expressed in knob coordinates. This lands on voices the decoder has really seen, not in
        the gaps between speakers that a single Gaussian also covers.
        """
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, not {temperature}")
        gen = _rng(rng)
        if digit is None or self._post_mu is None:
            return (gen.standard_normal(self.latent_dim) * temperature).astype(np.float32)
        d = _as_digit(digit)
        rows = self._post_rows[d]
        i = rows[gen.integers(len(rows))]
        z = self._post_mu[i] + np.sqrt(self._post_var[i]) * gen.standard_normal(self.latent_dim)
        u = np.linalg.solve(self._digit_chol[d], z - self._digit_mean[d])
        return (u * temperature).astype(np.float32)

    def speaker_index(self, speaker: str | int) -> int:
        """Index of a speaker given by name or index; :class:`ValueError` if unknown."""
        names = self._bundle.speakers
        if isinstance(speaker, str):
            if speaker in names:
                return names.index(speaker)
            if speaker.isdigit() and int(speaker) < len(names):
                return int(speaker)
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ValueError(f"unknown voice {speaker!r} (voices: {shown or 'none'})")
        if isinstance(speaker, int | np.integer) and 0 <= int(speaker) < len(names):
            return int(speaker)
        raise ValueError(f"voice index {speaker!r} out of range (0..{len(names) - 1})")

    def voice_knobs(self, speaker: str | int, digit: int | str) -> np.ndarray:
        """Knobs ``u`` (float32 ``(latent_dim,)``) of a speaker's mean latent for ``digit``.

        Solves ``digit_chol[d] @ u = speaker_digit_mean[s, d] - digit_mean[d]``.
        """
        s, d = self.speaker_index(speaker), _as_digit(digit)
        delta = self._speaker_digit_mean[s, d] - self._digit_mean[d]
        return np.linalg.solve(self._digit_chol[d], delta).astype(np.float32)

    def knobs_to_latent(self, digit: int | str, knobs: np.ndarray) -> np.ndarray:
        """``z = digit_mean[d] + digit_chol[d] @ u``, float32 ``(latent_dim,)``."""
        d = _as_digit(digit)
        u = self._check_knobs(knobs)
        return (self._digit_mean[d] + self._digit_chol[d] @ u).astype(np.float32)

    def _check_knobs(self, knobs: np.ndarray) -> np.ndarray:
        u = np.asarray(knobs, dtype=np.float64).reshape(-1)
        if u.shape != (self.latent_dim,):
            raise ValueError(f"{u.size} knob values given, the model has {self.latent_dim} latent dimensions")
        if not np.isfinite(u).all():
            raise ValueError("knob values must be finite numbers")
        return u

    # --- rendering -------------------------------------------------------------------------

    def decode(self, digits: list[int], knobs: list[np.ndarray]) -> list[np.ndarray]:
        """Decode one batch: features ``(n_valid_i, n_bins)`` in [0, 1] per digit, trimmed by the valid head."""
        import torch

        z = np.stack([self.knobs_to_latent(d, u) for d, u in zip(digits, knobs, strict=True)])
        with torch.inference_mode():
            out = self._bundle.model.decode(torch.from_numpy(z), torch.tensor(digits, dtype=torch.long))
            feats = out.features.float().numpy()
            valid = out.valid_logits.float().numpy()
        return [np.ascontiguousarray(f[: self.valid_length(v)]) for f, v in zip(feats, valid, strict=True)]

    @staticmethod
    def valid_length(valid_logits: np.ndarray) -> int:
        """Frames up to the first ``valid < 0`` at or after :data:`MIN_FRAMES` (all frames if none)."""
        n = len(valid_logits)
        if n <= MIN_FRAMES:
            return n
        ends = np.flatnonzero(valid_logits[MIN_FRAMES:] < 0)
        return MIN_FRAMES + int(ends[0]) if ends.size else n

    def render_digit(self, digit: int | str, knobs: np.ndarray) -> Render:
        """Render one digit (0-9, or ``"0"``-``"9"``) from knob vector ``u`` ``(latent_dim,)``."""
        d = _as_digit(digit)
        u = self._check_knobs(knobs).astype(np.float32)
        return self._render([d], [u], [])

    def render_string(
        self,
        digits: str,
        knobs: np.ndarray | None = None,
        vary: bool = True,
        temperature: float = 1.0,
        seed: int | None = None,
        voice: str | int | None = None,
    ) -> Render:
        """Render a digit string (phone-number separators allowed; see :func:`parse_digit_groups`).

        The base voice is ``knobs`` if given, else the preset ``voice`` (that speaker's knobs for
        each digit), else one random draw at ``temperature``. ``vary=True`` adds per-digit
        variation ``N(0, (0.35 * temperature)^2)`` around it (natural, slightly different
        tokens); ``vary=False`` speaks every digit with the same knobs. Gaps between digits are
        drawn from 80-144 ms (220-300 ms at separators). Same arguments and ``seed`` -> the
        same waveform. Raises :class:`ValueError` on bad input before any rendering.
        """
        groups = parse_digit_groups(digits)
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, not {temperature}")
        rng = np.random.default_rng(seed)
        base = None
        if knobs is not None:
            base = self._check_knobs(knobs).astype(np.float32)
        elif voice is None:
            base = self.random_knobs(temperature, rng)
        sidx = None if voice is None or knobs is not None else self.speaker_index(voice)
        digits_flat: list[int] = []
        knobs_flat: list[np.ndarray] = []
        gaps: list[int] = []  # silent frames after each digit but the last
        frame_s = self.spectral.frame_seconds
        for gi, g in enumerate(groups):
            for ci, ch in enumerate(g):
                d = int(ch)
                u = base if sidx is None else self.voice_knobs(sidx, d)
                if vary:
                    u = u + VARY_SCALE * temperature * rng.standard_normal(self.latent_dim)
                digits_flat.append(d)
                knobs_flat.append(np.asarray(u, dtype=np.float32))
                last = ci == len(g) - 1
                if not (last and gi == len(groups) - 1):
                    gap_s = rng.uniform(*(GROUP_GAP_S if last else GAP_S))
                    gaps.append(max(1, round(gap_s / frame_s)))
        return self._render(digits_flat, knobs_flat, gaps)

    def _render(self, digits: list[int], knobs: list[np.ndarray], gaps: list[int]) -> Render:
        """Decode ``digits`` with ``knobs``, lay them out with ``gaps`` silent frames, reconstruct the phase."""
        cfg = self.spectral
        hop = cfg.hop
        with self._lock:
            feats = self.decode(digits, knobs)
            n_frames = sum(len(f) for f in feats) + sum(gaps)
            timeline = np.zeros((n_frames, cfg.n_bins), dtype=np.float32)
            spans: list[tuple[int, int]] = []
            pos = 0
            for i, f in enumerate(feats):
                timeline[pos : pos + len(f)] = f
                spans.append((pos, pos + len(f)))
                pos += len(f) + (gaps[i] if i < len(gaps) else 0)
            mag = spectral.features_to_mag(timeline, cfg)
            raw = spectral.griffin_lim(
                mag, cfg, self.gl_iters, self.gl_momentum, self.gl_init, seed=0, n_samples=n_frames * hop
            )
        wave = np.zeros(n_frames * hop, dtype=np.float32)
        n_in, n_out = round(self.fade_in_s * cfg.sample_rate), round(self.fade_out_s * cfg.sample_rate)
        trim = min(round(self.trim_end_s * cfg.sample_rate), hop)
        ends = []
        for a, b in spans:
            seg = raw[a * hop : b * hop - trim].copy()
            ends.append(b * hop - trim)
            k_in, k_out = min(n_in, len(seg) // 4), min(n_out, len(seg) // 4)
            if k_in:
                seg[:k_in] *= _ramp(k_in)
            if k_out:
                seg[-k_out:] *= _ramp(k_out)[::-1]
            peak = float(np.max(np.abs(seg))) if len(seg) else 0.0
            if peak > 1e-6:
                seg *= cfg.peak / peak
            wave[a * hop : a * hop + len(seg)] = seg
        if trim and ends:
            wave = wave[: ends[-1]]
        sr = cfg.sample_rate
        segments = [(a * hop / sr, e / sr) for (a, _), e in zip(spans, ends, strict=True)]
        return Render(wave, sr, timeline, "".join(map(str, digits)), segments, [np.array(u) for u in knobs])
