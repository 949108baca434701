"""How much of the two-sample judge's lead is a fixed offset between generated and real features?

    python experiments/natural_voice_meanshift.py --bundle resources/models/cvae --data …/recordings

The two-sample judge is linear, so a constant difference between generated and real features (a
level offset, a spectral tilt) is what it finds first. This measures that part without touching the
test split: the mean difference is calibrated on *another* draw of fresh voices (seed 5) against
300 real *training* recordings (30 per digit), then subtracted from the judged draw (seed 0, as
``training.judges`` draws it) before the usual two-sample test against the 300 test recordings.

Prints the two-sample accuracy as is, after removing the calibrated offset (all features; per
digit; the log-mel part only; a per-band level only), and the offset of the log-mel part in dB by
mel band and by normalised time step. If removing the offset leaves the accuracy where it was, the
judge sees utterance-to-utterance texture, not a fixed bias that a level correction could cure.
"""

from __future__ import annotations

import numpy as np
from common import diagnosis_parser, load_judged  # experiments/common.py


def main() -> int:
    p = diagnosis_parser(__doc__)
    args = p.parse_args()
    from training import judges as J
    from training.judges import MEL_FRAMES, N_MELS
    from training.judges import two_sample_accuracy as acc

    judged = load_judged(args.bundle, args.data)
    synth, jd = judged.synth, judged.judges
    cfg, train, n = jd.cfg, jd.train, args.per_digit
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(train.digit == d), n, replace=False) for d in range(10)])
    emb_tr = J.penultimate(jd.clf, train.features[idx])
    real_tr = J.two_sample_features(emb_tr, train.features[idx], train.n_valid[idx], cfg)
    real_tr_digit = train.digit[idx]

    def fresh(seed: int) -> tuple[np.ndarray, np.ndarray]:
        knobs, digits = J.fresh_knobs(synth, n, seed=seed)
        return jd.side(J.render_knobs(synth, knobs, digits), digits).ts, digits

    cal, cal_digit = fresh(5)
    judged, judged_digit = fresh(0)
    real = jd.real.ts
    e = emb_tr.shape[1]
    offset = cal.mean(0) - real_tr.mean(0)
    per_digit = np.stack([cal[cal_digit == d].mean(0) - real_tr[real_tr_digit == d].mean(0) for d in range(10)])
    log_mel_only = offset.copy()
    log_mel_only[:e] = 0.0
    lm = offset[e:].reshape(MEL_FRAMES, N_MELS)
    band_level = np.zeros_like(offset)
    band_level[e:] = np.broadcast_to(lm.mean(0), (MEL_FRAMES, N_MELS)).reshape(-1)
    sd = real_tr.std(0) + 1e-9
    print(f"two-sample test, judged draw as is:                 {acc(judged, real):.3f}")
    print(f"  the calibration draw as is:                       {acc(cal, real):.3f}")
    print(f"  real training recordings against the test split:  {acc(real_tr, real):.3f}")
    print(f"  offset removed (all features):                    {acc(judged - offset, real):.3f}")
    print(f"  offset removed per digit:                         {acc(judged - per_digit[judged_digit], real):.3f}")
    print(f"  log-mel offset removed only:                      {acc(judged - log_mel_only, real):.3f}")
    print(f"  per-band level removed only:                      {acc(judged - band_level, real):.3f}")
    print(f"mean |offset| / real spread: log-mel {np.abs(offset[e:] / sd[e:]).mean():.3f}, "
          f"embedding {np.abs(offset[:e] / sd[:e]).mean():.3f}")  # fmt: skip
    print("log-mel offset by mel band (dB):", " ".join(f"{v:.1f}" for v in lm.mean(0)))
    print("log-mel offset by time step (dB):", " ".join(f"{v:.1f}" for v in lm.mean(1)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
