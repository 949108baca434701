"""What annotation stores in a bundle's ``config.json`` besides the model: the voice map's plane and the knob labels.

Plain data, read from untrusted JSON and checked here (a bad entry is a :class:`ValueError` with one
readable sentence, which :func:`vaesynth.model.bundle.load_bundle` turns into a ``BundleError``).
The math on them lives above, in :mod:`vaesynth.voices.voice` (``VoiceMap``: latents to map
positions and back). Both entries are written by ``training/annotate.py`` when a bundle is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KNOB_EFFECTS = ("f0_semitones", "duration_pct", "loudness_db", "centroid_pct", "change_db")


@dataclass(frozen=True)
class MapPlane:
    """The stored voice map (``voice_map`` in ``config.json``): a PCA plane through the training latents.

    ``origin`` ``(D,)``: the mean of the training utterances' posterior means; ``axes`` ``(2, D)``:
    orthonormal, the two principal directions of those means; ``speakers`` ``(N,)``: the speaker
    index of each stored training posterior; ``files`` (``N`` names, or none): their recordings;
    ``explained``: the share of the variance each axis holds. The points themselves are not
    stored: they are the bundle's stored posteriors projected onto the plane.
    """

    origin: np.ndarray
    axes: np.ndarray
    speakers: np.ndarray
    files: list[str] = field(default_factory=list)
    explained: list[float] = field(default_factory=list)

    @classmethod
    def from_config(cls, entry: object, n_posteriors: int | None, latent_dim: int) -> MapPlane:
        """Parse a bundle's ``voice_map`` entry (untrusted) against the number of stored posteriors.

        Raises :class:`ValueError` with one readable sentence when the entry is malformed or the
        bundle has no stored posteriors (``n_posteriors`` ``None``) to place on the map.
        """
        if n_posteriors is None:
            raise ValueError("the bundle stores no training posteriors to place on a map")
        if not isinstance(entry, dict):
            raise ValueError("voice_map must be a mapping")
        n, d = n_posteriors, latent_dim
        try:
            origin = np.asarray(entry["origin"], dtype=np.float64)
            axes = np.asarray(entry["axes"], dtype=np.float64)
            speakers = np.asarray(entry["speaker"], dtype=np.int64)
            explained = [float(x) for x in entry.get("explained", ())]
        except (KeyError, TypeError, ValueError):
            raise ValueError("voice_map lacks a numeric origin, axes or speaker list") from None
        files = entry.get("file", [])
        if origin.shape != (d,) or axes.shape != (2, d) or speakers.shape != (n,):
            raise ValueError("voice_map does not match the model's latent size or its stored posteriors")
        if not (np.isfinite(origin).all() and np.isfinite(axes).all()) or np.abs(origin).max() > 1e3:
            raise ValueError("voice_map holds non-finite or absurd values")
        if not np.allclose(axes @ axes.T, np.eye(2), atol=1e-3):
            raise ValueError("voice_map axes are not orthonormal")
        if not isinstance(files, list) or len(files) not in (0, n) or not all(isinstance(f, str) for f in files):
            raise ValueError("voice_map file names do not match the stored posteriors")
        return cls(origin, axes, speakers, list(files), explained)

    def to_config(self) -> dict:
        """The ``config.json`` form (rounded; the points are not stored)."""
        return {
            "origin": [round(float(x), 6) for x in self.origin],
            "axes": [[round(float(x), 6) for x in row] for row in self.axes],
            "explained": [round(float(x), 4) for x in self.explained],
            "speaker": [int(s) for s in self.speakers],
            "file": list(self.files),
        }


def parse_knob_labels(entry: object, latent_dim: int) -> list[dict]:
    """A bundle's ``knob_labels`` entry, checked: one ``{"label": str, "effects": {name: float}}`` per dimension.

    ``effects`` are what turning that knob from -2 to +2 measurably changes (see
    ``training/annotate.py``): f0 in semitones, duration in percent, loudness in dB, spectral
    centroid in percent, ``speaker`` (the training speaker a probe hears more) and ``change_db``,
    the knob's effect size (mean change of the time-normalised log spectrum, dB per unit; bundles
    annotated before it was measured lack it). Raises :class:`ValueError` when malformed.
    """
    if not isinstance(entry, list) or len(entry) != latent_dim:
        raise ValueError(f"knob_labels must list {latent_dim} entries, one per latent dimension")
    out = []
    for item in entry:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str) or len(item["label"]) > 60:
            raise ValueError("every knob label needs a short 'label' text")
        effects = item.get("effects", {})
        if not isinstance(effects, dict) or not all(
            isinstance(v, int | float) and np.isfinite(v) for k, v in effects.items() if k in KNOB_EFFECTS
        ):
            raise ValueError("knob label effects must be finite numbers")
        if effects.get("change_db", 0.0) < 0:
            raise ValueError("a knob's change_db is a size: it cannot be negative")
        out.append({"label": item["label"], "effects": dict(effects)})
    return out
