"""Learn my voice, seen: spectrograms of a personal model's fresh voices beside the held-out speaker's
real recordings of the same digits and the base model's fresh voices.

    python experiments/learn_voice_plot.py --personal FOLDER --base FOLDER --speaker theo \
        --data /path/to/fsdd/recordings --out docs/results/learn_voice_spectrograms.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import plain_parser  # noqa: E402

from vaesynth.dsp.spectral import features_to_db, normalize_peak, trim_silence, wave_to_features  # noqa: E402
from vaesynth.engine.synth import Synth  # noqa: E402

DIGITS = (0, 3, 7)


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    p = plain_parser(__doc__)
    p.add_argument("--personal", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--speaker", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    mine, base = Synth.from_path(args.personal), Synth.from_path(args.base)
    cfg = mine.spectral
    rng = np.random.default_rng(0)
    who = args.speaker
    cols = [f"real {who} (test recording)", f"personal model ({who}'s 20 takes)", "base (fresh voice)"]
    fig, axes = plt.subplots(len(DIGITS), 3, figsize=(10, 2.4 * len(DIGITS)), sharey=True)
    for r, d in enumerate(DIGITS):
        x, _ = sf.read(str(Path(args.data) / f"{d}_{args.speaker}_0.wav"), dtype="float32")
        waves = [
            trim_silence(normalize_peak(x, cfg), cfg),
            mine.render_digit(d, mine.knobs.fresh(d, 1.0, rng)).wave,
            base.render_digit(d, base.knobs.fresh(d, 1.0, rng)).wave,
        ]
        for c, w in enumerate(waves):
            feat, n = wave_to_features(w, cfg)
            db = features_to_db(feat[: max(n, 1)], cfg)
            ax = axes[r, c]
            ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=cfg.db_min, vmax=cfg.db_max,
                      extent=(0, n * cfg.hop / cfg.sample_rate, 0, cfg.sample_rate / 2))  # fmt: skip
            ax.set_title(f"“{d}”: {cols[c]}", fontsize=8)
            ax.set_xlabel("s", fontsize=7)
        axes[r, 0].set_ylabel("Hz", fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
