"""Where do a bundle's voices differ from real speech: in the decoder or in Griffin-Lim, and in which features?

    python experiments/natural_voice_where.py --bundle resources/models/cvae --data …/recordings

Prints, for the bundle's fresh voices (drawn as ``training.judges`` draws them) and its
reconstructions of the 300 test recordings:

- the two-sample test on the decoded features themselves (no phase reconstruction, no
  re-analysis) against the real test features, next to the same after the engine's render: is the
  gap in the decoder or in Griffin-Lim?
- spectral flux (dB) of real features, decoded features (with and without the noise texture),
  real features through Griffin-Lim and the engine's render, overall and per 1 kHz band;
- the two-sample test on subsets of its features (embedding, log-mel, time segments, mel bands,
  summary statistics): what the judge looks at.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from common import diagnosis_parser, load_judged  # experiments/common.py

BANDS = [(0, 32), (32, 64), (64, 96), (96, 129)]  # bins of 0-1, 1-2, 2-3, 3-4 kHz at 8 kHz / 256


def flux_by_band(feats: np.ndarray, lens, cfg) -> list[float]:
    """Spectral flux (as training.judges.spectral_flux, dB) overall and per band."""
    span = cfg.db_max - cfg.db_min
    out = np.zeros(1 + len(BANDS))
    for f, n in zip(feats, lens, strict=True):
        d = np.diff(f[: int(n)], axis=0) * span
        out[0] += np.sqrt((d**2).mean(1)).mean()
        for i, (a, b) in enumerate(BANDS):
            out[1 + i] += np.sqrt((d[:, a:b] ** 2).mean(1)).mean()
    return list(out / len(feats))


def main() -> int:
    p = diagnosis_parser(__doc__)
    args = p.parse_args()
    from training import judges as J
    from training.judges import MEL_FRAMES, N_MELS, log_mel
    from training.judges import two_sample_accuracy as acc

    judged = load_judged(args.bundle, args.data)
    model, synth, jd = judged.model, judged.synth, judged.judges
    cfg, test = jd.cfg, jd.test
    ts = judged.two_sample_view

    def pad(fs):
        return np.stack([np.pad(f, ((0, cfg.max_frames - len(f)), (0, 0))) for f in fs]), np.array([len(f) for f in fs])

    real_ts = ts(test.features, test.n_valid)
    knobs, digits = J.fresh_knobs(synth, args.per_digit)
    with torch.inference_mode():
        mu, _ = model.encode(torch.from_numpy(test.features.astype(np.float32)), torch.from_numpy(test.digit))
    rec_knobs = synth.knobs.to_knobs(test.digit, mu.numpy())
    fresh_dec = pad(synth.decode(list(map(int, digits)), list(knobs)))
    rec_dec = pad(synth.decode(list(map(int, test.digit)), list(rec_knobs)))
    fresh = jd.side(J.render_knobs(synth, knobs, digits), digits)
    rec = jd.side(J.render_knobs(synth, rec_knobs, test.digit), test.digit)

    print("two-sample test           decoded features | after the engine's render")
    for name, dec, side, paired in (("fresh voices", fresh_dec, fresh, False), ("reconstructions", rec_dec, rec, True)):
        print(f"  {name:23s} {acc(ts(*dec), real_ts, paired):.3f}            | {acc(side.ts, jd.real.ts, paired):.3f}")

    gl = J.analyse(J.resynth_gl(test, cfg), cfg)
    if hasattr(model, "texture") and model.texture > 0:
        model.texture, tex = 0.0, model.texture
        plain = pad(synth.decode(list(map(int, test.digit)), list(rec_knobs)))
        model.texture = tex
    else:
        plain = None
    rows = [("real features", (test.features, test.n_valid)), ("reconstructions, decoded", rec_dec)]
    rows += [("  the same without texture", plain)] if plain is not None else []
    rows += [("real through Griffin-Lim", gl), ("reconstructions, rendered", (rec.feats, rec.lens))]
    real_flux = flux_by_band(test.features, test.n_valid, cfg)[0]
    print("\nspectral flux (dB)        all (/ real)    0-1 / 1-2 / 2-3 / 3-4 kHz")
    for name, (f, n) in rows:
        v = flux_by_band(f, n, cfg)
        print(f"  {name:27s} {v[0]:.2f} ({v[0] / real_flux:.2f})   " + " / ".join(f"{x:.2f}" for x in v[1:]))

    print("\ntwo-sample test on subsets of the judge's features (fresh | reconstructions)")
    lm_r = log_mel(jd.real.feats, jd.real.lens, cfg).reshape(-1, MEL_FRAMES, N_MELS)
    subsets = {}
    for name, side, paired in (("fresh", fresh, False), ("recon", rec, True)):
        lm = log_mel(side.feats, side.lens, cfg).reshape(-1, MEL_FRAMES, N_MELS)
        s = {"all": acc(side.ts, jd.real.ts, paired), "embedding": acc(side.emb, jd.real.emb, paired),
             "log-mel": acc(lm.reshape(len(lm), -1), lm_r.reshape(len(lm_r), -1), paired),
             "length": acc(side.lens[:, None].astype(float), jd.real.lens[:, None].astype(float), paired)}  # fmt: skip

        def part(sel, paired=paired, lm=lm):
            return acc(lm[sel].reshape(len(lm), -1), lm_r[sel].reshape(len(lm_r), -1), paired)

        for a in range(0, MEL_FRAMES, 4):
            s[f"time steps {a}-{a + 3}"] = part(np.s_[:, a : a + 4])
        for a in range(0, N_MELS, 10):
            s[f"mel bands {a}-{a + 9}"] = part(np.s_[:, :, a : a + 10])
        s["mean spectrum"] = acc(lm.mean(1), lm_r.mean(1), paired)
        s["spread over time"] = acc(lm.std(1), lm_r.std(1), paired)
        change, change_r = (np.abs(np.diff(x, axis=1)).mean(1) for x in (lm, lm_r))
        s["frame-to-frame change"] = acc(change, change_r, paired)
        s["loudness contour"] = acc(lm.max(2), lm_r.max(2), paired)
        subsets[name] = s
    for k in subsets["fresh"]:
        print(f"  {k:24s} {subsets['fresh'][k]:.3f} | {subsets['recon'][k]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
