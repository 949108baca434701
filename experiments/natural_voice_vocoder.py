"""Does a source-filter vocoder in place of Griffin-Lim make the default model's voices more natural?

Renders the harmonic head's output with the vocoder instead of Griffin-Lim on the mixed magnitude,
and judges it (not in the engine).

    python experiments/natural_voice_vocoder.py --bundle resources/models/cvae --data …/recordings \
        [--phase zero|random] [--voiced-noise 0.7] [--no-recon] [--json out.json]

The decoder of the default model already describes each frame as a source and a filter: an f0, a
voicing gate, a harmonic envelope and a noise envelope (``ConditionalVAE.decode_parts``, the same
numbers that ``decode`` mixes into one magnitude). Griffin-Lim then has to find a waveform for that
mixed magnitude. Here the parts are rendered directly, as DDSP and classic vocoders do:

- harmonics: sum over k of ``a_k(t) cos(k * phi(t) + p_k)``, ``phi`` the integrated f0 (linear
  per sample between frame centres), ``a_k`` the harmonic envelope at ``k * f0`` (gated; scaled so
  that the STFT peak of the sinusoid equals the envelope, i.e. ``/ (n_fft / 4)`` for a Hann
  window), ``p_k`` = 0 (``--phase zero``: pulse-like) or uniform random;
- noise: white noise, its STFT times the noise envelope (normalised like the model's noise
  texture), inverse STFT: filtered noise whose re-analysed magnitude is the envelope times a real
  noise's fine structure, with consistent phase;
- ``--voiced-noise A``: the noise of voiced (gate-on) frames times ``A``.

Then the engine's render settings (the last half hop cut, peak normalisation). Judged like every
variant (``training.judges``), fresh voices drawn with the same seed as there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from common import diagnosis_parser, load_judged  # experiments/common.py


def main() -> int:
    p = diagnosis_parser(__doc__)
    p.add_argument("--phase", choices=("zero", "random"), default="zero")
    p.add_argument("--voiced-noise", type=float, default=1.0)
    p.add_argument("--no-recon", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    from training import judges
    from training.vocoder import render_parts
    from vaesynth.dsp.spectral import normalize_peak
    from vaesynth.engine.synth import Synth

    judged = load_judged(args.bundle, args.data)
    model, synth, j = judged.model, judged.synth, judged.judges
    cfg = synth.spectral
    trim = min(round(synth.trim_end_s * cfg.sample_rate), cfg.hop)  # the bundle's render setting
    rng = np.random.default_rng(1)

    @torch.inference_mode()
    def render(z: np.ndarray, digits: np.ndarray) -> list[np.ndarray]:
        out = model.decode_parts(torch.from_numpy(z.astype(np.float32)), torch.from_numpy(digits.astype(np.int64)))
        parts = {k: v.float().numpy() for k, v in out.items()}
        waves = []
        for i in range(len(digits)):
            n = Synth.valid_length(parts["valid"][i])
            one = {k: v[i] for k, v in parts.items()}
            w = render_parts(one, n, cfg, rng, args.phase, args.voiced_noise)
            waves.append(normalize_peak(w[: len(w) - trim], cfg))
        return waves

    knobs, digits = judges.fresh_knobs(synth, args.per_digit)  # as judges.fresh_voices draws them
    z = synth.knobs.to_latents(list(map(int, digits)), knobs)
    res = j.compare(j.side(render(z, digits), digits))
    if not args.no_recon:
        with torch.inference_mode():
            mu, _ = model.encode(torch.from_numpy(j.test.features.astype(np.float32)), torch.from_numpy(j.test.digit))
        rec = j.side(render(mu.numpy(), j.test.digit), j.test.digit)
        res["recon_two_sample"] = j.compare(rec, paired=True)["two_sample"]
    name = f"vocoder_{args.phase}_vn{args.voiced_noise}"
    print(name, json.dumps({k: round(v, 4) for k, v in res.items()}))
    if args.json:
        Path(args.json).write_text(json.dumps({name: res}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
