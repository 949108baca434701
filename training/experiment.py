"""The training experiment: a LightningModule around any :mod:`vaesynth.model.models` VAE."""

from __future__ import annotations

import lightning as L
import torch
from torch.nn import functional as F

from vaesynth.dsp.spectral import SpectralConfig
from vaesynth.model.models import build_model

from .config import Recipe


def fused_ok(params) -> bool | None:
    """``fused=`` for torch's Adam/AdamW over ``params``: the fused kernel (one pass over all
    weights, measured 1.1 ms against 5.8 ms per step for the cvae on a 2-core CPU) where torch has
    one for their device, else torch's default."""
    return True if next(iter(params)).device.type in ("cpu", "cuda") else None

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def bin_weights(cfg: SpectralConfig, kind: str = "flat") -> torch.Tensor:
    """Per-bin weights ``(n_bins,)`` of the reconstruction term (``Recipe.rec_bins``): ones, or the mel
    scale's density ``1 / (700 Hz + f)`` normalised to a mean of 1."""
    if kind == "flat":
        return torch.ones(cfg.n_bins)
    hz = torch.arange(cfg.n_bins, dtype=torch.float64) * cfg.sample_rate / cfg.n_fft
    w = 1.0 / (700.0 + hz)
    return (w / w.mean()).float()


class VAEExperiment(L.LightningModule):
    """Loss = summed squared error on features + beta * KL + length (valid) BCE [+ f0 loss].

    Every setting comes from one :class:`training.config.Recipe`: ``beta`` warms up linearly
    from 0 over ``recipe.effective_warmup_epochs``; ``free_bits`` (nats per latent dimension, on
    the batch mean) keeps dimensions from collapsing; ``f0_weight`` and ``teacher_f0`` steer the
    harmonic head; ``tvl_beta`` weighs the time-varying latents' KL (models with ``tvl_dim``,
    warmed up with ``beta``). The recipe is saved as the checkpoint's hyperparameters (plain values).
    """

    def __init__(self, recipe: Recipe | dict | None = None, **settings: object) -> None:
        """``recipe`` (or its dict form); ``settings`` are the recipe's fields as keywords, which is
        how ``VAEExperiment.load_from_checkpoint`` passes a checkpoint's hyperparameters back."""
        super().__init__()
        if recipe is None:
            recipe = settings
        elif settings:
            raise TypeError("give a recipe or its settings as keywords, not both")
        self.recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(dict(recipe))
        self.save_hyperparameters(self.recipe.to_dict())
        self.model = build_model(self.recipe.kind, self.recipe.spectral, self.recipe.params)
        self.register_buffer("bin_weights", bin_weights(self.recipe.spectral, self.recipe.rec_bins), persistent=False)

    def beta_now(self) -> float:
        r = self.recipe
        warmup = r.effective_warmup_epochs
        if warmup <= 0:
            return r.beta
        steps = max(1, self.trainer.num_training_batches) if self._trainer is not None else 1
        progress = (self.current_epoch + (self.global_step % steps) / steps) / warmup
        return r.beta * min(1.0, progress)

    def posterior(self, x: torch.Tensor, digit: torch.Tensor) -> tuple:
        """``(mu, logvar, w_mu, w_logvar)`` of a batch: the code's posterior and the time-varying
        latents' (``None, None`` for models without them)."""
        if getattr(self.model, "tvl_dim", 0) > 0:
            return self.model.encode_all(x, digit)
        return (*self.model.encode(x, digit), None, None)

    def losses(self, batch: Batch, posterior: tuple | None = None) -> dict[str, torch.Tensor]:
        """Loss terms of one batch (``x (B, T, F)``, digit ``(B,)``, n_valid ``(B,)``, f0 Hz ``(B, T)``,
        voicing ``(B, T)``); ``"loss"`` is the weighted total that is minimised. ``posterior``: the
        batch's :meth:`posterior`, when the caller has it already (a frozen encoder)."""
        r = self.recipe
        x, digit, n_valid, f0, voicing = batch
        t = torch.arange(x.shape[1], device=x.device)[None, :]
        valid = (t < n_valid[:, None]).float()
        voiced = valid * (voicing > 0.6).float() * (x.mean(-1) > 0.25).float()
        tvl = getattr(self.model, "tvl_dim", 0) > 0
        mu, logvar, w_mu, w_logvar = self.posterior(x, digit) if posterior is None else posterior
        z = self.model.reparameterize(mu, logvar) if self.training else mu
        w = (self.model.reparameterize(w_mu, w_logvar) if self.training else w_mu) if tvl else None
        gated = getattr(self.model, "voicing", False)
        # the voicing gate's target: periodic frames of the utterance, loud or not (requiring loudness
        # too, as the f0 teacher does, switched the comb off in quiet voiced frames: 1.4x real's
        # share of aperiodic loud frames, measured)
        periodic = valid * (voicing > 0.5).float()
        if getattr(self.model, "head", None) == "harmonic" and r.teacher_f0:
            # teacher forcing: the comb uses the measured f0 in voiced frames (see ConditionalVAE.decode)
            extra = {"teacher_voicing": periodic} if gated else {}
            extra.update({"w": w} if tvl else {})
            out = self.model.decode(z, digit, teacher_f0=torch.where(voiced > 0, f0, torch.nan), **extra)
        else:
            out = self.model.decode(z, digit, **({"w": w} if tvl else {}))
        err = out.features - x
        per_bin = err.abs() if r.rec_loss == "l1" else err**2
        rec = (per_bin * self.bin_weights).sum(dim=(1, 2)).mean()  # weights of 1.0 ("flat") leave it exact
        kl_dim = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(0)  # (D,) batch mean
        kl = kl_dim.sum()
        kl_term = torch.clamp(kl_dim, min=r.free_bits).sum() if r.free_bits > 0 else kl
        length = F.binary_cross_entropy_with_logits(out.valid_logits, valid, reduction="none").sum(1).mean()
        losses = {"rec": rec, "kl": kl, "length": length}
        total = r.rec_weight * rec + self.beta_now() * kl_term + length
        if tvl:  # time-varying latents: KL(posterior || autoregressive prior given code and digit), summed
            p_mu, p_logvar = self.model.tvl_prior(w, self.model.tvl_cond(z, digit))
            kl_w = 0.5 * (p_logvar - w_logvar + (w_logvar.exp() + (w_mu - p_mu) ** 2) / p_logvar.exp() - 1)
            losses["kl_w"] = kl_w.sum(dim=(1, 2)).mean()
            warm = self.beta_now() / r.beta if r.beta > 0 else 1.0
            total = total + warm * r.tvl_beta * losses["kl_w"]
        if out.f0_hz is not None:
            f0_err = (torch.log(out.f0_hz) - torch.log(f0)).abs() * voiced
            losses["f0"] = f0_err.sum() / voiced.sum().clamp(min=1)
            total = total + r.f0_weight * f0_err.sum(1).mean()
        if getattr(out, "voicing_logits", None) is not None:  # voicing gate: BCE against the measured voicing
            v_bce = F.binary_cross_entropy_with_logits(out.voicing_logits, periodic, reduction="none") * valid
            losses["voicing"] = v_bce.sum() / valid.sum().clamp(min=1)
            total = total + r.voicing_weight * v_bce.sum(1).mean()
        losses["loss"] = total
        return losses

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        losses = self.losses(batch)
        epoch_logs = {f"train/{k}": v for k, v in losses.items()}
        self.log_dict(epoch_logs, prog_bar=False, on_epoch=True, on_step=False, sync_dist=True)
        self.log("beta", self.beta_now(), on_epoch=True, on_step=False, sync_dist=True)
        self.log("loss", losses["loss"], prog_bar=True, on_epoch=False, on_step=True)
        return losses["loss"]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        losses = self.losses(batch)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, prog_bar=False, on_epoch=True, sync_dist=True)
        self.log("val_rec", losses["rec"], prog_bar=True, on_epoch=True, sync_dist=True)

    def configure_optimizers(self) -> dict:
        r = self.recipe
        params = list(self.model.parameters())
        opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay, fused=fused_ok(params))
        total = int(self.trainer.estimated_stepping_batches)
        if total < 1:  # fit() sizes batches so that every process gets at least one; this is a guard
            raise RuntimeError(f"no training steps in this run (estimated {total}); too little data per process")
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=total, pct_start=r.lr_warmup_pct)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
