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
Griffin-Lim (:func:`vaesynth.dsp.phase.griffin_lim`) -> waveform of ``n_frames * hop``
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

import numbers
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..digits import as_digit, parse_digit_groups
from ..dsp import phase, spectral
from ..model import texture as texture_stage
from ..voices.voice import KnobSpace, check_temperature, make_rng
from .performance import NATURAL, Performance

if TYPE_CHECKING:  # torch and the bundle loader are imported when a Synth is made, so that
    from ..model.bundle import Bundle  # importing the engine stays cheap (the CLI checks input first)

MIN_FRAMES = 8  # a decoded utterance keeps at least this many frames (64 ms at 8 kHz / hop 64)

# Defaults chosen by measurement (docs/engine.md, bench/bench_synth.py --phase).
DEFAULT_GL_ITERS = 48
DEFAULT_GL_INIT = "pghi"
DEFAULT_GL_MOMENTUM = 0.99
#: Griffin-Lim iterations of live edits in the app (knob turns, map and pad drags): 1.7 instead of
#: 4.5 ms per digit, spectral convergence 0.141 instead of 0.121 (PGHI start; docs/latency.md)
LIVE_GL_ITERS = 16
MAX_GL_ITERS = 1000


def check_gl_iters(n: object) -> int:
    """``n`` as a number of Griffin-Lim iterations (0 to :data:`MAX_GL_ITERS`), else ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= MAX_GL_ITERS:
        raise ValueError(f"gl_iters must be a whole number from 0 to {MAX_GL_ITERS}, got {n!r}")
    return int(n)

# Pacing of digit strings, the way people read numbers aloud: digits in a string are spoken faster
# than alone (a single keypad digit lasts ~0.45 s, a digit in a phone number ~0.3 s), with short
# breaths inside a group and a clear pause between groups ("415 / 555 / 0123"). Measured: with these,
# "+1 (415) 555-0123" lasts about as long as espeak-ng takes with the same grouping (tests/test_synth.py holds it).
STRING_TEMPO = 1.5  # speed-up of each digit of a string of two or more digits
GAP_S = (0.020, 0.060)  # silence between digits of a group (uniform)
GROUP_GAP_S = (0.160, 0.240)  # silence at a separator between digit groups
FADE_IN_S = 0.004
FADE_OUT_S = 0.012
VARY_SCALE = 0.35  # per-digit variation of the knobs (standard units, times temperature)


@dataclass
class Render:
    """One rendered sound.

    ``wave``: float32 ``(n_samples,)`` at ``sample_rate`` Hz (the model rate), peak <= 1.
    ``features``: float32 ``(n_frames, n_bins)`` in [0, 1], what was decoded (trimmed to the
    valid length; for strings concatenated with silent gap frames), aligned with ``wave``:
    ``n_samples == n_frames * hop``.
    ``digits``: the digits spoken. ``segments``: ``(start_s, end_s)`` of each digit in ``wave``.
    ``latents``: the knob vector ``u`` (float32 ``(latent_dim,)``) used for each digit.
    ``donors``: the texture bank utterances whose texture each digit got (empty lists: the stage was off).
    """

    wave: np.ndarray
    sample_rate: int
    features: np.ndarray
    digits: str
    segments: list[tuple[float, float]]
    latents: list[np.ndarray] = field(default_factory=list)
    donors: list[list[int]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of ``wave`` in seconds."""
        return len(self.wave) / self.sample_rate


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine ramp 0 -> 1 over ``n`` samples (float32)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


class Synth:
    """Renders digits and digit strings from a loaded :class:`~vaesynth.model.bundle.Bundle`.

    ``gl_iters``, ``gl_init``, ``gl_momentum``: phase reconstruction settings (see
    :func:`vaesynth.dsp.phase.griffin_lim`; defaults chosen by measurement, docs/engine.md).
    ``torch_threads``: calls ``torch.set_num_threads`` (process-wide) unless ``None``. One
    thread is the default: these models are small, a second thread buys little, and on a busy
    2-core machine multi-threaded kernels stall each other (and the GUI).
    ``fft``: the FFT backend of phase reconstruction (see :func:`vaesynth.dsp.phase.griffin_lim`);
    default ``"torch"`` when ``torch_threads == 1`` (torch's single-threaded FFT is 2-3x faster
    on these frames), else ``"numpy"``.
    ``texture``: use the bundle's texture bank, if it has one (:mod:`vaesynth.model.texture`); ``False``
    renders the pure decoder.

    Rendering methods are thread-safe (one render at a time).
    """

    def __init__(
        self,
        bundle: Bundle,
        gl_iters: int = DEFAULT_GL_ITERS,
        gl_init: str = DEFAULT_GL_INIT,
        gl_momentum: float = DEFAULT_GL_MOMENTUM,
        torch_threads: int | None = 1,
        fft: str | None = None,
        texture: bool = True,
    ) -> None:
        import torch

        check_gl_iters(gl_iters)
        if gl_init not in phase.GL_INITS:
            raise ValueError(f"unknown Griffin-Lim init {gl_init!r}; known: {', '.join(phase.GL_INITS)}")
        if torch_threads is not None and torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
        self._bundle = bundle
        self.gl_iters = int(gl_iters)
        self.gl_init = gl_init
        self.gl_momentum = float(gl_momentum)
        self.fft = fft if fft is not None else ("torch" if torch_threads == 1 else "numpy")
        if self.fft not in phase.FFT_BACKENDS:
            raise ValueError(f"unknown FFT backend {self.fft!r}; known: {', '.join(phase.FFT_BACKENDS)}")
        self._lock = threading.Lock()
        self._knobs = KnobSpace.from_stats(bundle.stats, bundle.speakers)
        # optional per-bundle render settings (config.json "render", checked on load); absent: the defaults
        render = bundle.meta.get("render") or {}
        self.fade_in_s = float(render.get("fade_in_s", FADE_IN_S))
        self.fade_out_s = float(render.get("fade_out_s", FADE_OUT_S))
        # cut each digit's end by this much: ``n`` decoded frames describe about ``(n - 1/2) * hop``
        # samples of a trimmed recording, the rendered ``n * hop`` end in Griffin-Lim's decaying edge
        self.trim_end_s = float(render.get("trim_end_s", 0.0))
        bundle.model.eval()
        # the texture stage (vaesynth.model.texture): on when the bundle ships a bank, unless turned off
        self._bank = bundle.texture if texture else None
        self.texture_settings = bundle.texture_settings
        self._donors = texture_stage.DonorCache(bundle.model, bundle.texture) if bundle.texture is not None else None
        if self._bank is not None:
            self._bank.set_knob_coords(self._knobs.to_knobs(self._bank.digits, self._bank.latents))

    @classmethod
    def from_path(cls, path: str | Path | None = None, **kwargs) -> Synth:
        """Load a bundle by shipped name (``"cvae"``), folder path, or ``None`` for the default model.

        Raises :class:`~vaesynth.model.bundle.BundleError` when it is missing or invalid.
        """
        from ..model.bundle import load_bundle
        from ..model.catalog import resolve_model

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

    @property
    def knobs(self) -> KnobSpace:
        """The model's knob space: knob <-> latent, fresh voices, presets (:mod:`vaesynth.voices.voice`)."""
        return self._knobs

    # --- rendering -------------------------------------------------------------------------

    @property
    def has_f0(self) -> bool:
        """Whether the model decodes an f0 track (needed for pitch and note; the default model does)."""
        return bool(getattr(self._bundle.model, "head", None) == "harmonic")

    @property
    def has_texture(self) -> bool:
        """Whether renders take their fine texture from the bundle's bank (:mod:`vaesynth.model.texture`)."""
        return self._bank is not None

    def decode(
        self, digits: list[int], knobs: list[np.ndarray], performance: Performance = NATURAL, tempo: float = 1.0
    ) -> list[np.ndarray]:
        """Decode one batch: features ``(n_i, n_bins)`` in [0, 1] per digit (see :meth:`decode_voiced`)."""
        return self.decode_voiced(digits, knobs, performance, tempo)[0]

    def decode_voiced(
        self,
        digits: list[int],
        knobs: list[np.ndarray],
        performance: Performance = NATURAL,
        tempo: float = 1.0,
        donors: list[list[int] | None] | None = None,
        texture: bool | None = None,
    ) -> tuple[list[np.ndarray], list[list[int]]]:
        """Decode one batch: (features ``(n_i, n_bins)`` in [0, 1] per digit, trimmed by the valid
        head; the texture donors of each digit).

        ``performance``: a pitch shift or held note re-decodes with the mapped f0 track in the
        harmonic comb (envelopes unchanged); a formant ratio warps the envelopes' frequency axis (the
        comb stays at f0); its speed, times ``tempo``, resamples the trimmed frames in time. ``texture``
        (default: on when the bundle has a bank and the synth was made with ``texture=True``): the
        decoder's smooth output gets real texture (:mod:`vaesynth.model.texture`) from ``donors[i]``
        (bank indices) where given, else from the nearest donors (theirs decoded unwarped).
        """
        import torch

        if performance.needs_f0_head and not self.has_f0:
            raise ValueError(f"pitch, note and formants need the default model; {self._bundle.kind!r} has no f0 head")
        z_np = self._knobs.to_latents(digits, np.asarray(knobs))
        z = torch.from_numpy(z_np)
        d = torch.tensor(digits, dtype=torch.long)
        model = self._bundle.model
        bank = self._bank if texture is None or texture else None
        kw = {"texture": False} if bank is not None else {}  # the bank replaces the decoder's noise texture
        chosen = [[] for _ in digits]
        if bank is not None:
            chosen = texture_stage.choose(bank, self.texture_settings, digits, knobs, z_np, donors)
        warp = {"formant": performance.formant} if performance.moves_formants else {}
        with torch.inference_mode():
            out = model.decode(z, d, **kw, **warp)  # valid, f0: as unwarped
            feats = out.features.float().numpy()
            lengths = [self.valid_length(v) for v in out.valid_logits.float().numpy()]
            f0 = out.f0_hz.float().numpy() if out.f0_hz is not None else None
            if performance.moves_pitch:
                f0 = np.stack(
                    [performance.map_f0(f, np.arange(len(f)) < n) for f, n in zip(f0, lengths, strict=True)]
                )
                feats = model.decode(z, d, teacher_f0=torch.from_numpy(f0), **kw, **warp).features.float().numpy()
        feats = [np.ascontiguousarray(f[:n]) for f, n in zip(feats, lengths, strict=True)]
        if bank is not None:
            donor_smooth = [self._donors.smooth(j) for c in chosen for j in c]
            feats = texture_stage.apply(bank, self.texture_settings, digits, feats, f0, chosen, donor_smooth)
        return [performance.stretch(f, tempo) for f in feats], chosen

    def warm(self) -> None:
        """A small decode and a short phase reconstruction, results unused: on a machine shared with
        other work the model's code and weights fall out of the CPU caches within a fraction of a
        second, and the first render after a pause then takes 1.5-2x as long (measured: a decode
        4 ms back to back, 15-18 ms after 0.4 s idle, 7 ms when this runs every 0.1 s). An
        interactive caller runs it now and then while the user is active. Thread-safe."""
        cfg = self.spectral
        with self._lock:
            feats = self.decode([0], [np.zeros(self.latent_dim, np.float32)])[0][:8]
            mag = spectral.features_to_mag(feats, cfg)
            phase.griffin_lim(mag, cfg, 2, self.gl_momentum, self.gl_init, 0, None, self.fft)

    @staticmethod
    def valid_length(valid_logits: np.ndarray) -> int:
        """Frames up to the first ``valid < 0`` at or after :data:`MIN_FRAMES` (all frames if none)."""
        n = len(valid_logits)
        if n <= MIN_FRAMES:
            return n
        ends = np.flatnonzero(valid_logits[MIN_FRAMES:] < 0)
        return MIN_FRAMES + int(ends[0]) if ends.size else n

    def render_digit(
        self,
        digit: int | str,
        knobs: np.ndarray,
        performance: Performance = NATURAL,
        gl_iters: int | None = None,
        texture: bool | None = None,
        donors: list[int] | None = None,
    ) -> Render:
        """Render one digit (0-9, or ``"0"``-``"9"``) from knob vector ``u`` ``(latent_dim,)``.

        ``performance``: pitch shift, held note and speed (:mod:`vaesynth.engine.performance`).
        ``gl_iters``: Griffin-Lim iterations for this render (default: :attr:`gl_iters`); the app
        renders live edits (knob turns, drags) with fewer (:data:`LIVE_GL_ITERS`). ``texture``: see
        :meth:`decode`; ``donors``: the texture bank utterances to take the texture from (the app
        holds them while a knob turns, so the texture does not jump; default: the nearest).
        """
        d = as_digit(digit)
        u = self._knobs.check(knobs).astype(np.float32)
        return self._render([d], [u], [], performance, gl_iters=gl_iters, texture=texture,
                            donors=[donors] if donors else None)  # fmt: skip

    def render_string(
        self,
        digits: str,
        knobs: np.ndarray | None = None,
        vary: bool = True,
        temperature: float = 1.0,
        seed: int | None = None,
        voice: str | int | None = None,
        performance: Performance = NATURAL,
        gl_iters: int | None = None,
        texture: bool | None = None,
    ) -> Render:
        """Render a digit string (phone-number separators allowed; see :func:`parse_digit_groups`).

        The base voice is ``knobs`` if given, else the preset ``voice`` (that speaker's knobs for
        each digit), else one random draw at ``temperature``. ``vary=True`` adds per-digit
        variation ``N(0, (0.35 * temperature)^2)`` around it (natural, slightly different
        tokens); ``vary=False`` speaks every digit with the same knobs. Strings of two or more
        digits are paced like numbers read aloud: each digit :data:`STRING_TEMPO` times faster,
        20-60 ms between digits, 160-240 ms at separators (all divided by ``performance.speed``).
        Same arguments and ``seed`` -> the same waveform. Raises :class:`ValueError` on bad input
        before any rendering.
        """
        groups = parse_digit_groups(digits)
        temperature = check_temperature(temperature)
        rng = make_rng(seed)
        base = None
        if knobs is not None:
            base = self._knobs.check(knobs).astype(np.float32)
        elif voice is None:
            base = self._knobs.fresh(None, temperature, rng)
        sidx = None if voice is None or knobs is not None else self._knobs.speaker_index(voice)
        digits_flat: list[int] = []
        knobs_flat: list[np.ndarray] = []
        gaps: list[int] = []  # silent frames after each digit but the last
        frame_s = self.spectral.frame_seconds
        for gi, g in enumerate(groups):
            for ci, ch in enumerate(g):
                d = int(ch)
                u = base if sidx is None else self._knobs.preset(sidx, d)
                if vary:
                    u = u + VARY_SCALE * temperature * rng.standard_normal(self.latent_dim)
                digits_flat.append(d)
                knobs_flat.append(np.asarray(u, dtype=np.float32))
                last = ci == len(g) - 1
                if not (last and gi == len(groups) - 1):
                    gap_s = rng.uniform(*(GROUP_GAP_S if last else GAP_S)) / performance.speed
                    gaps.append(max(1, round(gap_s / frame_s)))
        tempo = STRING_TEMPO if len(digits_flat) > 1 else 1.0
        return self._render(digits_flat, knobs_flat, gaps, performance, tempo, gl_iters, texture)

    def _render(
        self,
        digits: list[int],
        knobs: list[np.ndarray],
        gaps: list[int],
        performance: Performance = NATURAL,
        tempo: float = 1.0,
        gl_iters: int | None = None,
        texture: bool | None = None,
        donors: list[list[int]] | None = None,
    ) -> Render:
        """Decode ``digits`` with ``knobs``, lay them out with ``gaps`` silent frames, reconstruct the phase."""
        cfg = self.spectral
        iters = self.gl_iters if gl_iters is None else check_gl_iters(gl_iters)
        hop = cfg.hop
        with self._lock:
            feats, used = self.decode_voiced(digits, knobs, performance, tempo, donors, texture)
            n_frames = sum(len(f) for f in feats) + sum(gaps)
            timeline = np.zeros((n_frames, cfg.n_bins), dtype=np.float32)
            spans: list[tuple[int, int]] = []
            pos = 0
            for i, f in enumerate(feats):
                timeline[pos : pos + len(f)] = f
                spans.append((pos, pos + len(f)))
                pos += len(f) + (gaps[i] if i < len(gaps) else 0)
            mag = spectral.features_to_mag(timeline, cfg)
            raw = phase.griffin_lim(mag, cfg, iters, self.gl_momentum, self.gl_init, 0, n_frames * hop, self.fft)
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
            wave[a * hop : a * hop + len(seg)] = spectral.normalize_peak(seg, cfg)
        if trim and ends:
            wave = wave[: ends[-1]]
        sr = cfg.sample_rate
        segments = [(a * hop / sr, e / sr) for (a, _), e in zip(spans, ends, strict=True)]
        latents = [np.array(u) for u in knobs]
        return Render(wave, sr, timeline, "".join(map(str, digits)), segments, latents, used)
