"""Is the harmonic head or the decoder's trunk what limits naturalness?

    python experiments/natural_voice_headfit.py --bundle resources/models/cvae --data …/recordings [--steps 400]

Two oracles on the 300 FSDD test recordings, judged by the two-sample test on the features
themselves (no phase reconstruction; ``training.judges``), against the real test features:

- *teacher*: the bundle's reconstructions (encode -> posterior mean -> decode) with the measured
  f0 and voicing in the comb instead of the predicted ones. If these score much better, the f0 and
  voicing predictions are the limit.
- *fit*: the head's own per-frame parameters (the harmonic and noise envelopes' cepstral
  coefficients, every frame free, with the measured f0 and voicing) fitted to each real utterance by
  gradient descent on the squared error, started from the reconstruction. This is the best the head
  can render, whatever a decoder feeds it. If it scores near Griffin-Lim on the true features
  (about 0.55-0.60), the head is not the limit and the trunk is.

Prints the two-sample accuracy, the RMS error (dB) and spectral flux / real for each.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import diagnosis_parser, load_judged  # experiments/common.py


def main() -> int:
    p = diagnosis_parser(__doc__, per_digit=False)
    p.add_argument("--steps", type=int, default=400, help="gradient steps of the per-utterance fit")
    args = p.parse_args()
    from training import judges as J
    from vaesynth.model.blocks import harmonic_comb, noise_texture, seeded_normal

    torch.manual_seed(0)
    judged = load_judged(args.bundle, args.data)
    model, jd = judged.model, judged.judges
    if getattr(model, "head", None) != "harmonic":
        raise SystemExit("this diagnosis needs a model with the harmonic head (the default cvae)")
    cfg, test = jd.cfg, jd.test
    span_db = cfg.db_max - cfg.db_min
    ts = judged.two_sample_view

    real_ts = ts(test.features, test.n_valid)
    x = torch.from_numpy(test.features.astype(np.float32))
    d = torch.from_numpy(test.digit)
    n = torch.from_numpy(test.n_valid)
    valid = (torch.arange(x.shape[1])[None] < n[:, None]).float()
    f0 = torch.from_numpy(test.f0.astype(np.float32))
    voiced = (f0 > 0) & valid.bool()
    periodic = valid * (torch.from_numpy(test.voicing.astype(np.float32)) > 0.5).float()  # the gate's target

    def flux(f: np.ndarray) -> float:
        steps = [np.sqrt((np.diff(f[i, :m], axis=0) ** 2).mean(1)).mean() for i, m in enumerate(test.n_valid)]
        return float(np.mean(steps))

    def report(name: str, feats: torch.Tensor) -> None:
        f = feats.detach().numpy().copy()
        for i, m in enumerate(test.n_valid):
            f[i, m:] = 0.0
        err = np.sqrt(np.mean([((f[i, :m] - test.features[i, :m]) ** 2).mean() for i, m in enumerate(test.n_valid)]))
        acc = J.two_sample_accuracy(ts(f, test.n_valid), real_ts, True)
        rel_flux = flux(f) / flux(test.features)
        print(f"  {name:38s} {acc:.3f}        {err * span_db:5.2f}      {rel_flux:.3f}", flush=True)

    print("features judged directly               two-sample  RMS (dB)  flux / real")
    with torch.no_grad():
        mu, _ = model.encode(x, d)
        h = model.trunk(mu, d)
        report("reconstruction (predicted f0, gate)", model.decode(mu, d).features)
        teacher_f0 = torch.where(voiced, f0, torch.nan)
        report("reconstruction, measured f0", model.decode(mu, d, teacher_f0=teacher_f0).features)
        report(
            "reconstruction, measured f0 + voicing",
            model.decode(mu, d, teacher_f0=teacher_f0, teacher_voicing=periodic).features,
        )
        o0 = model.out(h).transpose(1, 2)
        _, _, f0_pred, _, _, _ = model.source_filter(h)
        comb_f0 = torch.where(voiced, f0, f0_pred)
        comb = harmonic_comb(comb_f0, model.bin_hz, cfg.sample_rate / cfg.n_fft) * periodic.unsqueeze(-1)
        noise = seeded_normal(mu, (model.n_frames * cfg.hop,))
        texture = model.texture * noise_texture(noise, cfg.n_fft, cfg.hop, model.n_frames)
    k, span = model.n_ceps, model.span

    def render(o: torch.Tensor, with_texture: bool) -> torch.Tensor:
        harm_ln = (o[..., :k] @ model.basis) * span
        noise_ln = (o[..., k : 2 * k] @ model.basis) * span + (texture if with_texture else 0.0)
        return (torch.logaddexp(harm_ln + torch.log(comb + 1e-6), noise_ln) / span).clamp(0.0, 1.0)

    o = o0[..., : 2 * k].clone().requires_grad_(True)
    opt = torch.optim.Adam([o], lr=0.02)
    mask = valid.unsqueeze(-1)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = (((render(o, False) - x) ** 2) * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"  (fit: {args.steps} steps in {time.perf_counter() - t0:.0f} s)")
    with torch.no_grad():
        report("head fitted per frame", render(o, False))
        report("head fitted per frame + noise texture", render(o, True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
