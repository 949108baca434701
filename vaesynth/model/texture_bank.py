"""The texture bank on disk and in memory: residual textures of training utterances (:mod:`vaesynth.model.texture`
renders with it).

``texture.safetensors`` in a bundle folder holds (every tensor checked on load, before use)::

    bank.codes      uint8 (n_frames, n_bins) or two 4-bit codes a byte (n_frames, ceil(n_bins / 2))
    bank.levels     float32 (n_bins, 256 | 16)   each bin's codebook (feature units)
    bank.offsets    int64 (N + 1,)               utterance i is frames offsets[i]:offsets[i+1]
    bank.latents    float32 (N, D)               posterior means of the utterances
    bank.variances  float32 (N, D)               their posterior variances
    bank.digits     int64 (N,)   bank.speakers int64 (N,)
    bank.f0         float32 (n_frames,)          measured f0 of every frame (Hz)
    bank.mean       float32 (10, n_bins)         each digit's mean residual

A bank is untrusted input like the rest of a bundle: :func:`load_bank` checks the file's size and
kind, every tensor's type and shape from the header before any is read, then the values.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..digits import N_DIGITS

BANK_FILE = "texture.safetensors"
BANK_FORMAT = "vaesynth-texture"
BANK_VERSION = 1
# Bounds that keep a hostile bank from driving allocations: the shipped bank has ~2,700 utterances
# and ~150,000 frames; a full FSDD-sized bank at the longest frames still fits with a wide margin.
MAX_BANK_BYTES = 64 << 20
MAX_BANK_UTTERANCES = 50_000
MAX_BANK_FRAMES = 2_000_000
MAX_BANK_BINS = 4097
F0_RANGE = (30.0, 1000.0)  # Hz; the bank's f0 tracks lie in this range


class BankError(ValueError):
    """A texture bank is missing, corrupt or inconsistent (one readable sentence)."""


@dataclass
class TextureBank:
    """Residual textures of training utterances, quantised per bin to a codebook of 16 or 256 levels.

    ``codes`` uint8: all residuals end to end, ``(n_frames, n_bins)`` with 256 levels, or two 4-bit
    codes a byte ``(n_frames, ceil(n_bins / 2))`` with 16; utterance ``i`` is rows
    ``offsets[i]:offsets[i+1]``. ``levels`` float32 ``(n_bins, L)``: bin ``b``'s value of code ``c``
    is ``levels[b, c]`` (feature units, 1 = the whole dB range; a least-squares
    codebook of that bin's residuals). ``latents`` float32 ``(N, D)`` and ``variances`` ``(N, D)``: the utterances'
    posteriors; ``digits``, ``speakers`` int64 ``(N,)``; ``f0`` float32 ``(n_frames,)``: each
    frame's measured f0 (Hz); ``mean`` float32 ``(10, n_bins)``: each digit's mean residual.
    """

    codes: np.ndarray
    levels: np.ndarray
    offsets: np.ndarray
    latents: np.ndarray
    variances: np.ndarray
    digits: np.ndarray
    speakers: np.ndarray
    f0: np.ndarray
    mean: np.ndarray

    def __post_init__(self) -> None:
        self._by_digit = [np.flatnonzero(self.digits == d) for d in range(N_DIGITS)]
        self._knob_coords: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.digits)

    @property
    def n_bins(self) -> int:
        return self.levels.shape[0]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.codes, self.levels, self.offsets, self.latents, self.variances,
                                      self.digits, self.speakers, self.f0, self.mean))  # fmt: skip

    def residual(self, i: int) -> np.ndarray:
        """Utterance ``i``'s residual, float32 ``(n_i, n_bins)`` in feature units."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        codes = unpack(self.codes[a:b], self.levels.shape[1], self.n_bins)
        return self.levels[np.arange(self.n_bins)[None, :], codes]

    def length(self, i: int) -> int:
        """Frames of utterance ``i``."""
        return int(self.offsets[i + 1] - self.offsets[i])

    def f0_track(self, i: int) -> np.ndarray:
        return self.f0[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def set_knob_coords(self, coords: np.ndarray) -> None:
        """The bank latents in knob coordinates ``(N, D)`` (each its digit's whitened latent), for
        :meth:`select` (:meth:`vaesynth.voices.voice.KnobSpace.to_knobs` of :attr:`digits`, :attr:`latents`)."""
        coords = np.asarray(coords, dtype=np.float64)
        if coords.shape != self.latents.shape:
            raise BankError(f"knob coordinates of shape {coords.shape} for a bank of {self.latents.shape}")
        self._knob_coords = coords

    def select(
        self, digit: int, z: np.ndarray, u: np.ndarray | None, k: int = 1, typical: float = 200.0
    ) -> list[int]:
        """The ``k`` donors for latent ``z (D,)`` (knobs ``u``) of ``digit``: nearest first.

        Distance: Euclidean in knob space when :meth:`set_knob_coords` was called (else latent
        space). Excluded: every utterance whose posterior holds ``z`` as a typical draw (squared
        Mahalanobis distance below ``D + typical * sqrt(2 D)``), i.e. the anchor of a fresh draw
        and anything as close; but when that leaves none (a bank of very few takes: a personal model
        learnt from one take per digit), the least close of them are used, farthest first, rather
        than no texture. Raises :class:`BankError` when the bank holds no utterance of the digit.
        """
        rows = self._by_digit[int(digit)]
        if rows.size == 0:
            raise BankError(f"the texture bank holds no utterance of digit {digit}")
        z = np.asarray(z, dtype=np.float64)
        dim = z.shape[-1]
        maha = (((self.latents[rows] - z) ** 2) / self.variances[rows]).sum(1)
        keep = maha >= dim + typical * math.sqrt(2 * dim)
        if not keep.any():  # all hold z: the least close, farthest first
            return [int(i) for i in rows[np.argsort(-maha, kind="stable")[:k]]]
        rows = rows[keep]
        if self._knob_coords is not None and u is not None:
            dist = ((self._knob_coords[rows] - np.asarray(u, np.float64)) ** 2).sum(1)
        else:
            dist = ((self.latents[rows] - z) ** 2).sum(1)
        order = np.argsort(dist, kind="stable")[:k]
        return [int(i) for i in rows[order]]


# --- on disk ---------------------------------------------------------------------------------------

_NAMES = {  # name: (dtype, rank)
    "codes": (np.uint8, 2), "levels": (np.float32, 2), "offsets": (np.int64, 1),
    "latents": (np.float32, 2), "variances": (np.float32, 2), "digits": (np.int64, 1), "speakers": (np.int64, 1),
    "f0": (np.float32, 1), "mean": (np.float32, 2),
}  # fmt: skip


def quantise(residuals: list[np.ndarray], bits: int = 8, iters: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Residuals ``[(n_i, F)]`` -> (codes uint8, levels float32 ``(F, 2**bits)``).

    Each bin gets its own codebook of ``2**bits`` levels, fitted for the least squared error (Lloyd's
    algorithm, ``iters`` rounds from equally populated quantile slices, so heavy tails keep levels of
    their own). ``bits`` 4 packs two codes a byte.
    """
    if bits not in (4, 8):
        raise ValueError("texture banks store 4 or 8 bits per value")
    allr = np.concatenate(residuals).astype(np.float32)
    n_levels = 1 << bits
    edges = np.quantile(allr, np.linspace(0.0, 1.0, n_levels + 1)[1:-1], axis=0).T  # (F, L-1)
    codes = np.empty(allr.shape, dtype=np.uint8)
    levels = np.empty((allr.shape[1], n_levels), dtype=np.float32)
    for b in range(allr.shape[1]):
        x, e = allr[:, b], edges[b]
        lv = np.concatenate(([e[0]], (e[1:] + e[:-1]) / 2, [e[-1]]))
        for _ in range(iters + 1):
            c = np.searchsorted(e, x)
            counts = np.bincount(c, minlength=n_levels)
            lv = np.where(counts > 0, np.bincount(c, weights=x, minlength=n_levels) / np.maximum(counts, 1), lv)
            lv = np.sort(lv)
            e = (lv[1:] + lv[:-1]) / 2
        codes[:, b] = np.searchsorted(e, x)
        levels[b] = lv
    if bits == 4:
        codes = pack4(codes)
    return codes, levels


def pack4(codes: np.ndarray) -> np.ndarray:
    """4-bit codes ``(T, F)`` -> bytes ``(T, ceil(F / 2))``: bin ``2j`` in the high half, ``2j + 1`` low."""
    if codes.shape[1] % 2:
        codes = np.pad(codes, ((0, 0), (0, 1)))
    return ((codes[:, 0::2] << 4) | codes[:, 1::2]).astype(np.uint8)


def unpack(codes: np.ndarray, n_levels: int, n_bins: int) -> np.ndarray:
    """Inverse of :func:`pack4` for 16 levels (256 levels: ``codes`` as they are), ``(T, n_bins)``."""
    if n_levels == 256:
        return codes
    out = np.empty((len(codes), 2 * codes.shape[1]), dtype=np.uint8)
    out[:, 0::2] = codes >> 4
    out[:, 1::2] = codes & 15
    return out[:, :n_bins]


def save_bank(bank: TextureBank, path: str | Path) -> None:
    """Write ``bank`` as one safetensors file (the caller writes it atomically into a bundle)."""
    from safetensors.numpy import save_file

    tensors = {f"bank.{n}": np.ascontiguousarray(getattr(bank, n)).astype(dt) for n, (dt, _) in _NAMES.items()}
    save_file(tensors, str(path), metadata={"format": BANK_FORMAT, "version": str(BANK_VERSION)})


def load_bank(path: str | Path, n_bins: int, latent_dim: int) -> TextureBank:
    """Load and validate a bank file; :class:`BankError` with one sentence on any problem.

    The file is untrusted: its size, then every tensor's type and shape (from the header, before
    any tensor is read), then the values (offsets, digits, f0, finite numbers) are checked.
    """
    from safetensors import SafetensorError, safe_open

    from ..sound.safeio import NotAFileError, open_regular

    path = Path(path)
    try:
        os.close(open_regular(path))  # a FIFO or device is refused before safetensors maps it
        st = path.stat()
    except NotAFileError:
        raise BankError(f"texture bank {path.name} is not a regular file") from None
    except OSError as e:
        raise BankError(f"texture bank {path.name} cannot be read: {e.strerror or e}") from None
    if st.st_size > MAX_BANK_BYTES:
        mb, limit = st.st_size >> 20, MAX_BANK_BYTES >> 20
        raise BankError(f"texture bank {path.name} is too large ({mb} MB, at most {limit})")
    try:
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
            if meta.get("format") != BANK_FORMAT or meta.get("version") != str(BANK_VERSION):
                raise BankError(f"{path.name} is not a version-{BANK_VERSION} vaesynth texture bank")
            names = set(f.keys())
            want = {f"bank.{n}" for n in _NAMES}
            if names != want:
                raise BankError(f"texture bank {path.name} lacks or adds tensors: {sorted(names ^ want)[:4]}")
            shapes = {n: tuple(f.get_slice(f"bank.{n}").get_shape()) for n in _NAMES}
            _check_shapes(shapes, n_bins, latent_dim)
            arrays = {n: f.get_tensor(f"bank.{n}") for n in _NAMES}
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as e:
        if isinstance(e, BankError):
            raise
        raise BankError(f"texture bank {path.name} is corrupt: {' '.join(str(e).split())[:160]}") from None
    for n, (dt, _) in _NAMES.items():
        if arrays[n].dtype != dt:
            raise BankError(f"texture bank tensor {n} has type {arrays[n].dtype}, expected {np.dtype(dt)}")
    _check_values(arrays)
    return TextureBank(**arrays)


def _check_shapes(shapes: dict[str, tuple], n_bins: int, latent_dim: int) -> None:
    for n, (_, rank) in _NAMES.items():
        if len(shapes[n]) != rank:
            raise BankError(f"texture bank tensor {n} has rank {len(shapes[n])}, expected {rank}")
    n_frames, width = shapes["codes"]
    bins, n_levels = shapes["levels"]
    n_utt = shapes["digits"][0]
    if bins != n_bins or not 0 < bins <= MAX_BANK_BINS:
        raise BankError(f"texture bank has {bins} frequency bins, the model {n_bins}")
    if n_levels not in (16, 256) or width != (bins if n_levels == 256 else (bins + 1) // 2):
        raise BankError(f"texture bank codes of width {width} with {n_levels} levels do not fit {bins} bins")
    if not 0 < n_utt <= MAX_BANK_UTTERANCES or not 0 < n_frames <= MAX_BANK_FRAMES:
        raise BankError(f"texture bank holds {n_utt} utterances in {n_frames} frames: out of range")
    want = {
        "offsets": (n_utt + 1,), "latents": (n_utt, latent_dim),
        "variances": (n_utt, latent_dim), "speakers": (n_utt,), "f0": (n_frames,), "mean": (N_DIGITS, bins),
    }  # fmt: skip
    for n, shape in want.items():
        if shapes[n] != shape:
            raise BankError(f"texture bank tensor {n} has shape {shapes[n]}, expected {shape}")


def _check_values(a: dict[str, np.ndarray]) -> None:
    off = a["offsets"]
    if off[0] != 0 or off[-1] != len(a["codes"]) or (np.diff(off) < 1).any():
        raise BankError("texture bank offsets are inconsistent")
    if ((a["digits"] < 0) | (a["digits"] >= N_DIGITS)).any() or (a["speakers"] < 0).any():
        raise BankError("texture bank digits or speakers are out of range")
    for n in ("levels", "latents", "variances", "f0", "mean"):
        if not np.isfinite(a[n]).all() or np.abs(a[n]).max(initial=0) > 1e4:
            raise BankError(f"texture bank {n} holds non-finite or absurd values")
    if (a["variances"] <= 0).any():
        raise BankError("texture bank variances must be positive")
    if ((a["f0"] < F0_RANGE[0]) | (a["f0"] > F0_RANGE[1])).any():
        raise BankError("texture bank f0 lies outside 30-1000 Hz")
