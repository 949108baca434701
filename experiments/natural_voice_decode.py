"""Can decode-time changes to a bundle's output (f0 jitter, shimmer, sharpening) make it more
natural, without retraining?

    python experiments/natural_voice_decode.py --bundle resources/models/cvae --data …/recordings \
        [--jitter 0.01] [--shimmer 0.2] [--sharpen 0.5] [--env-sharpen 0.5] [--json out.json]

- ``--jitter J``: the harmonic comb's f0 times ``exp(J * N(0, 1))`` per frame (f0 jitter).
- ``--shimmer S``: the comb times ``exp(S * N(0, 1))`` per frame and bin (harmonic shimmer).
- ``--sharpen A``: the decoded features (normalised log-magnitude) get a temporal unsharp mask,
  ``f + A * (f - mean of f over 3 frames)``, clipped to [0, 1].
- ``--env-sharpen A``: the same on the decoder's envelope channels (harmonic and noise cepstra),
  before the comb, the gate and the noise texture.

The bundle is then judged like every variant (``python -m training.judges --per-digit 30
--no-recon``). These are experiments: the random jitter/shimmer draws are not seeded per voice,
so renders are not reproducible; none of this is in the engine.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from common import diagnosis_parser  # experiments/common.py
from torch.nn import functional as F


def main() -> int:
    p = diagnosis_parser(__doc__)
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--shimmer", type=float, default=0.0)
    p.add_argument("--sharpen", type=float, default=0.0)
    p.add_argument("--env-sharpen", type=float, default=0.0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import vaesynth.engine.synth as vs
    import vaesynth.model.cvae as vm  # where the default model looks up harmonic_comb
    from training import judges

    comb0, decode0, init0 = vm.harmonic_comb, vs.Synth.decode, vs.Synth.__init__

    def comb(f0, bin_hz, bw, sigma_bins=0.85):  # noqa: ANN001, ANN202
        if not torch.is_grad_enabled():
            f0 = f0 * torch.exp(args.jitter * torch.randn_like(f0))
        c = comb0(f0, bin_hz, bw, sigma_bins)
        return c * torch.exp(args.shimmer * torch.randn_like(c)) if not torch.is_grad_enabled() else c

    def decode(self, *a, **k):  # noqa: ANN001, ANN202
        out = []
        for f in decode0(self, *a, **k):
            q = np.pad(f, ((1, 1), (0, 0)), mode="edge")
            smooth = (q[:-2] + q[1:-1] + q[2:]) / 3
            out.append(np.clip(f + args.sharpen * (f - smooth), 0, 1).astype(f.dtype))
        return out

    def init(self, bundle, *a, **kw):  # noqa: ANN001, ANN202
        init0(self, bundle, *a, **kw)
        model, fwd = bundle.model, bundle.model.out.forward
        k = model.n_ceps

        def forward(h):  # noqa: ANN001, ANN202
            o = fwd(h)
            env = o[:, : 2 * k]
            smooth = F.avg_pool1d(F.pad(env, (1, 1), mode="replicate"), 3, stride=1)
            return torch.cat([env + args.env_sharpen * (env - smooth), o[:, 2 * k :]], dim=1)

        if args.env_sharpen:
            model.out.forward = forward

    vm.harmonic_comb, vs.Synth.decode, vs.Synth.__init__ = comb, decode, init
    torch.manual_seed(0)
    name = f"j{args.jitter}_s{args.shimmer}_sh{args.sharpen}_env{args.env_sharpen}"
    argv = ["--bundle", f"{name}={args.bundle}", "--data", args.data, "--per-digit", str(args.per_digit), "--no-recon"]
    return judges.main(argv + (["--json", args.json] if args.json else []))


if __name__ == "__main__":
    sys.exit(main())
