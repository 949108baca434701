"""Adversarial fine-tuning of a trained VAE's decoder (the natural-voice work), in the manner of RAVE's second stage.

The encoder is frozen; the decoder keeps its VAE objective (the same loss as
:class:`training.experiment.VAEExperiment`, teacher-forced) and is additionally trained against
multi-scale spectrogram discriminators (least-squares GAN loss + feature matching) on what it
produces at inference: its own f0 and voicing, and the noise texture when the model has one
(``texture > 0``). The discriminators see normalised log-magnitude features ``(B, T, F)``,
masked to the real utterance's frames, at full, 2x and 4x time-pooled resolution (1-D convs
over time with the frequency bins as channels), and are told the digit (projection), so the
decoder cannot trade the digit for texture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from vaesynth.digits import N_DIGITS

from .experiment import fused_ok
from .vocoder import vocoder_features


@dataclass
class AdvConfig:
    steps: int = 0  # 0: no adversarial stage
    adv_weight: float = 10.0  # weight of (adversarial + fm_weight * feature matching) next to the VAE loss
    fm_weight: float = 2.0
    lr: float = 2e-4
    d_lr: float = 2e-4
    channels: int = 128
    scales: tuple[int, ...] = (1, 2, 4)
    warmup_steps: int = 100  # discriminator-only steps before the decoder sees its gradient
    d_steps: int = 1  # discriminator updates per decoder update (on the same batch)
    loss: str = "ls"  # the GAN loss: "ls" (least squares, LS-GAN) or "hinge"
    # what the discriminators judge of the decoder: "features" (its mixed magnitude with the noise
    # texture, what Griffin-Lim renders) or "vocoder" (training/vocoder.py's rendering of its parts,
    # re-analysed: harmonics and filtered noise)
    render: str = "features"
    batch_size: int = 32
    # discriminator families: "1d" (multi-scale over time, above), "2d" (one 2-D conv net over the
    # spectrogram image, time x frequency patches), "utt" (the whole utterance, time-normalised to
    # ``utt_frames`` frames, as the two-sample judge sees it), "delta" (the frame-to-frame change of
    # the features, 1-D over time: how fast spectra move, what spectral flux measures), "delta2" (the
    # same between means of two frames)
    discs: tuple[str, ...] = ("1d",)
    utt_frames: int = 32
    disc_weights: dict = field(default_factory=dict)  # family -> weight of its terms in the decoder's loss (1)


def conv_stack(convs: nn.ModuleList, h: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``h`` through ``convs`` with leaky ReLUs; the last output and every layer's (feature matching)."""
    feats = []
    for conv in convs:
        h = F.leaky_relu(conv(h), 0.2)
        feats.append(h)
    return h, feats


def time_convs(n_bins: int, channels: int, kernel: int, padding: int) -> nn.ModuleList:
    """The 1-D discriminators' convs over time: bins to ``channels`` (3 taps), then two stride-2
    layers of ``kernel`` taps (4x shorter)."""
    c = channels
    return nn.ModuleList(
        [nn.Conv1d(n_bins, c, 3, padding=1)] + [nn.Conv1d(c, c, kernel, stride=2, padding=padding) for _ in range(2)]
    )


class SpecDiscriminator(nn.Module):
    """1-D conv discriminator over time on ``(B, T, F)`` features (frequency bins as input
    channels, so the first layer sees the whole spectrum's fine structure), average-pooled in time
    by ``pool``; returns (intermediate feature maps, patch logits ``(B, t)``). Cheap enough for a
    CPU (a 2-D conv discriminator over the spectrogram image cost ~10 s per step there)."""

    def __init__(self, n_bins: int, channels: int = 128, pool: int = 1) -> None:
        super().__init__()
        c = channels
        self.pool = pool
        self.convs = time_convs(n_bins, c, kernel=5, padding=2)
        self.out = nn.Conv1d(c, 1, 3, padding=1)
        self.emb = nn.Embedding(N_DIGITS, c)

    def forward(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        h = x.transpose(1, 2)
        if self.pool > 1:
            h = F.avg_pool1d(h, self.pool, ceil_mode=True)
        h, feats = conv_stack(self.convs, h)
        proj = (h * self.emb(digit)[:, :, None]).sum(1) / h.shape[1] ** 0.5  # digit projection
        return feats, self.out(h)[:, 0] + proj


class ImageDiscriminator(nn.Module):
    """2-D conv discriminator over the ``(T, F)`` spectrogram image: its patches see a few frames
    by a band of bins, so it judges local spectro-temporal texture (bursts, onsets, the fine
    structure of noise) rather than whole spectra."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(1, c, 3, padding=1),
                nn.Conv2d(c, c, (3, 5), stride=(1, 2), padding=(1, 2)),
                nn.Conv2d(c, 2 * c, (3, 5), stride=(2, 2), padding=(1, 2)),
                nn.Conv2d(2 * c, 2 * c, (3, 5), stride=(1, 2), padding=(1, 2)),
            ]
        )
        self.out = nn.Conv2d(2 * c, 1, 3, padding=1)
        self.emb = nn.Embedding(N_DIGITS, 2 * c)

    def forward(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        h = x[:, None]
        h, feats = conv_stack(self.convs, h)
        proj = (h * self.emb(digit)[:, :, None, None]).sum(1) / h.shape[1] ** 0.5
        return feats, self.out(h)[:, 0] + proj


def time_normalise(x: torch.Tensor, n_valid: torch.Tensor, frames: int) -> torch.Tensor:
    """Each utterance's valid frames of ``(B, T, F)`` resampled (linear, ends aligned) to
    ``frames`` frames: ``F.interpolate(..., mode="linear", align_corners=True)`` per utterance,
    batched as one gather."""
    n = n_valid.clamp(min=2).to(x.dtype)
    pos = torch.linspace(0, 1, frames, device=x.device, dtype=x.dtype)[None, :] * (n[:, None] - 1)  # (B, frames)
    i0 = pos.floor().long().clamp(max=x.shape[1] - 1)
    i1 = (i0 + 1).clamp(max=x.shape[1] - 1)
    w = (pos - i0.to(x.dtype))[..., None]
    take = lambda i: torch.gather(x, 1, i[..., None].expand(-1, -1, x.shape[2]))  # noqa: E731
    return take(i0) * (1 - w) + take(i1) * w


class UtteranceDiscriminator(nn.Module):
    """Judges a whole utterance at once: its valid frames resampled to ``frames`` frames (the
    two-sample judge's view of the log-mel), 1-D convs over the normalised time, one logit."""

    def __init__(self, n_bins: int, channels: int = 128, frames: int = 32) -> None:
        super().__init__()
        c = channels
        self.frames = frames
        self.convs = time_convs(n_bins, c, kernel=4, padding=1)
        self.out = nn.Linear(c * (frames // 4), 1)
        self.emb = nn.Embedding(N_DIGITS, c * (frames // 4))

    def forward(self, x: torch.Tensor, digit: torch.Tensor, n_valid: torch.Tensor):
        h = time_normalise(x, n_valid, self.frames).transpose(1, 2)
        h, feats = conv_stack(self.convs, h)
        flat = h.flatten(1)
        proj = (flat * self.emb(digit)).sum(1, keepdim=True) / flat.shape[1] ** 0.5
        return feats, self.out(flat) + proj


class MultiScaleDiscriminator(nn.Module):
    def __init__(
        self, n_bins: int, channels: int = 128, scales: tuple[int, ...] = (1, 2, 4), discs: tuple[str, ...] = ("1d",),
        utt_frames: int = 32,
    ) -> None:  # fmt: skip
        super().__init__()
        unknown = set(discs) - {"1d", "2d", "utt", "delta", "delta2"}
        if unknown:
            raise ValueError(f"unknown discriminators: {', '.join(sorted(unknown))}")
        self.ds = nn.ModuleList([SpecDiscriminator(n_bins, channels, s) for s in scales] if "1d" in discs else [])
        self.image = ImageDiscriminator() if "2d" in discs else None
        self.utt = UtteranceDiscriminator(n_bins, channels, utt_frames) if "utt" in discs else None
        self.delta = SpecDiscriminator(n_bins, channels) if "delta" in discs else None
        self.delta2 = SpecDiscriminator(n_bins, channels) if "delta2" in discs else None  # over pairs of frames
        #: the family of each output of :meth:`forward`, in order
        self.families = ["1d"] * len(self.ds) + [f for f in ("delta", "delta2", "2d", "utt") if f in discs]

    def forward(self, x, digit, n_valid=None):
        outs = [d(x, digit) for d in self.ds]
        if self.delta is not None:
            outs.append(self.delta(x[:, 1:] - x[:, :-1], digit))
        if self.delta2 is not None:  # changes between 2-frame means: envelope motion more than noise texture
            x2 = F.avg_pool1d(x.transpose(1, 2), 2, ceil_mode=True).transpose(1, 2)
            outs.append(self.delta2(x2[:, 1:] - x2[:, :-1], digit))
        if self.image is not None:
            outs.append(self.image(x, digit))
        if self.utt is not None:
            outs.append(self.utt(x, digit, n_valid))
        return outs


def d_term(real: torch.Tensor, fake: torch.Tensor, loss: str = "ls") -> torch.Tensor:
    """A discriminator's loss on its logits for a real and a fake batch: least squares (real -> 1,
    fake -> 0) or hinge (``relu(1 - real) + relu(1 + fake)``)."""
    if loss == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return ((real - 1) ** 2).mean() + (fake**2).mean()


def g_term(fake: torch.Tensor, loss: str = "ls") -> torch.Tensor:
    """The decoder's adversarial loss on a discriminator's logits for its output: least squares
    (fake -> 1) or hinge (``-fake``)."""
    return -fake.mean() if loss == "hinge" else ((fake - 1) ** 2).mean()


def finetune(module, train_dl, cfg: AdvConfig, device: str = "cpu", log=print) -> dict:
    """Adversarially fine-tune ``module.model``'s decoder (``module``: a :class:`VAEExperiment`).

    ``train_dl`` yields the training batches of :func:`training.fit.tensors`. Returns a small
    log (losses of the last steps, seconds).
    """
    if cfg.render not in ("features", "vocoder"):
        raise ValueError(f"unknown adversarial render {cfg.render!r}; known: features, vocoder")
    if cfg.loss not in ("ls", "hinge"):
        raise ValueError(f"unknown adversarial loss {cfg.loss!r}; known: ls, hinge")
    module.to(device)
    module.train()
    model = module.model
    for p in model.parameters():
        p.requires_grad_(False)
    dec_params = [p for n, p in model.named_parameters() if not n.startswith(("enc_", "to_stats"))]
    for p in dec_params:
        p.requires_grad_(True)
    disc = MultiScaleDiscriminator(
        model.n_bins, cfg.channels, tuple(cfg.scales), tuple(cfg.discs), cfg.utt_frames
    ).to(device)
    d_params = list(disc.parameters())
    opt_g = torch.optim.Adam(dec_params, lr=cfg.lr, betas=(0.5, 0.9), fused=fused_ok(dec_params))
    opt_d = torch.optim.Adam(d_params, lr=cfg.d_lr, betas=(0.5, 0.9), fused=fused_ok(d_params))
    step, t0, hist = 0, time.perf_counter(), []
    while step < cfg.steps:
        for batch in train_dl:
            if step >= cfg.steps:
                break
            batch = [b.to(device) for b in batch]
            x, digit, n_valid = batch[0], batch[1], batch[2]
            mask = (torch.arange(x.shape[1], device=device)[None, :] < n_valid[:, None]).float().unsqueeze(-1)
            # the VAE objective, teacher-forced, on the same batch (encoder frozen, but the digit
            # embedding it shares with the decoder is trained, through both); its posterior, computed
            # once, also gives the code of the decoder's free-running pass (no gradient into the encoder there)
            post = module.posterior(x, digit)
            vae = module.losses(batch, posterior=post)
            mu, logvar = post[0].detach(), post[1].detach()
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            if cfg.render == "vocoder":
                fake = vocoder_features(model, z, digit) * mask
            else:
                fake = model.decode(z, digit, texture=True).features * mask
            real = x * mask
            # discriminator step(s) (LS-GAN or hinge); real and fake go through as one batch (the
            # discriminators have no batch statistics, and one batch of 2B is cheaper on a CPU than two of B)
            n = x.shape[0]
            both, digit2, n_valid2 = torch.cat([real, fake.detach()]), digit.repeat(2), n_valid.repeat(2)
            for _ in range(max(1, cfg.d_steps)):
                d_loss = 0.0
                for _, logits in disc(both, digit2, n_valid2):
                    d_loss = d_loss + d_term(logits[:n], logits[n:], cfg.loss)
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
            # decoder step: the discriminators' weights get no gradient here (they are not stepped),
            # and their view of the real batch is only a feature-matching target
            g_adv, fm = torch.zeros(()), torch.zeros(())
            if step >= cfg.warmup_steps:
                disc.requires_grad_(False)
                with torch.no_grad():
                    out_r = disc(real, digit, n_valid)
                out_f = disc(fake, digit, n_valid)
                for fam, (fr, _), (ff, lf) in zip(disc.families, out_r, out_f, strict=True):
                    wd = float(cfg.disc_weights.get(fam, 1.0))
                    g_adv = g_adv + wd * g_term(lf, cfg.loss)
                    fm = fm + wd * sum((a - b).abs().mean() for a, b in zip(fr, ff, strict=True)) / len(fr)
                g_loss = vae["loss"] + cfg.adv_weight * (g_adv + cfg.fm_weight * fm)
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                disc.requires_grad_(True)
            hist.append((float(d_loss.detach()), float(g_adv.detach()), float(fm.detach()), float(vae["rec"].detach())))
            step += 1
            if step % 200 == 0 or step == cfg.steps:
                last = torch.tensor(hist[-50:]).mean(0).tolist()
                log(f"adv step {step}/{cfg.steps}: D {last[0]:.3f} G {last[1]:.3f} FM {last[2]:.3f} rec {last[3]:.1f}"
                    f" ({time.perf_counter() - t0:.0f}s)")  # fmt: skip
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    last = torch.tensor(hist[-50:]).mean(0).tolist() if hist else [0.0] * 4
    return {"steps": cfg.steps, "seconds": round(time.perf_counter() - t0, 1), "d": last[0], "g": last[1],
            "fm": last[2], "rec": last[3]}  # fmt: skip
