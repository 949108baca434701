"""The training experiment: a LightningModule around any :mod:`vaesynth.models` VAE."""

from __future__ import annotations

import lightning as L
import torch
from torch.nn import functional as F

from vaesynth.models import build_model
from vaesynth.spectral import SpectralConfig


class VAEExperiment(L.LightningModule):
    """Loss = summed squared error on features + beta * KL + length (valid) BCE [+ f0 loss].

    ``beta`` warms up linearly from 0 over ``warmup_epochs``; ``free_bits`` (nats per latent
    dimension, on the batch mean) keeps dimensions from collapsing.
    """

    def __init__(
        self,
        kind: str,
        params: dict,
        spectral: dict,
        lr: float = 2e-3,
        beta: float = 1.0,
        warmup_epochs: int = 10,
        free_bits: float = 0.0,
        f0_weight: float = 20.0,
        teacher_f0: bool = True,
        epochs: int = 60,
        voicing_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.cfg = SpectralConfig.from_dict(spectral)
        self.model = build_model(kind, self.cfg, params)

    def beta_now(self) -> float:
        h = self.hparams
        if h.warmup_epochs <= 0:
            return h.beta
        steps = max(1, self.trainer.num_training_batches) if self._trainer is not None else 1
        progress = (self.current_epoch + (self.global_step % steps) / steps) / h.warmup_epochs
        return h.beta * min(1.0, progress)

    def losses(self, batch) -> dict[str, torch.Tensor]:
        x, digit, n_valid, f0, voicing = batch
        t = torch.arange(x.shape[1], device=x.device)[None, :]
        valid = (t < n_valid[:, None]).float()
        voiced = valid * (voicing > 0.6).float() * (x.mean(-1) > 0.25).float()
        mu, logvar = self.model.encode(x, digit)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        gated = getattr(self.model, "voicing", False)
        # the voicing gate's target: periodic frames of the utterance, loud or not (requiring loudness
        # too, as the f0 teacher does, switched the comb off in quiet voiced frames: 1.4x real's
        # share of aperiodic loud frames, measured)
        periodic = valid * (voicing > 0.5).float()
        if getattr(self.model, "head", None) == "harmonic" and self.hparams.teacher_f0:
            # teacher forcing: the comb uses the measured f0 in voiced frames (see ConditionalVAE.decode)
            extra = {"teacher_voicing": periodic} if gated else {}
            out = self.model.decode(z, digit, teacher_f0=torch.where(voiced > 0, f0, torch.nan), **extra)
        else:
            out = self.model.decode(z, digit)
        rec = ((out.features - x) ** 2).sum(dim=(1, 2)).mean()
        kl_dim = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(0)  # (D,) batch mean
        kl = kl_dim.sum()
        kl_term = torch.clamp(kl_dim, min=self.hparams.free_bits).sum() if self.hparams.free_bits > 0 else kl
        length = F.binary_cross_entropy_with_logits(out.valid_logits, valid, reduction="none").sum(1).mean()
        losses = {"rec": rec, "kl": kl, "length": length}
        total = rec + self.beta_now() * kl_term + length
        if out.f0_hz is not None:
            f0_err = (torch.log(out.f0_hz) - torch.log(f0)).abs() * voiced
            losses["f0"] = f0_err.sum() / voiced.sum().clamp(min=1)
            total = total + self.hparams.f0_weight * f0_err.sum(1).mean()
        if getattr(out, "voicing_logits", None) is not None:  # voicing gate: BCE against the measured voicing
            v_bce = F.binary_cross_entropy_with_logits(out.voicing_logits, periodic, reduction="none") * valid
            losses["voicing"] = v_bce.sum() / valid.sum().clamp(min=1)
            total = total + self.hparams.voicing_weight * v_bce.sum(1).mean()
        losses["loss"] = total
        return losses

    def training_step(self, batch, batch_idx):
        losses = self.losses(batch)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, on_epoch=True, on_step=False)
        self.log("beta", self.beta_now(), on_epoch=True, on_step=False)
        self.log("loss", losses["loss"], prog_bar=True, on_epoch=False, on_step=True)
        return losses["loss"]

    def validation_step(self, batch, batch_idx):
        losses = self.losses(batch)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, prog_bar=False, on_epoch=True)
        self.log("val_rec", losses["rec"], prog_bar=True, on_epoch=True)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.hparams.lr, weight_decay=1e-4)
        total = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=int(total), pct_start=0.1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
