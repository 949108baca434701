"""The default model, :class:`ConditionalVAE` (interface and baselines in :mod:`vaesynth.model.models`)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..digits import N_DIGITS
from ..dsp.spectral import SpectralConfig
from .blocks import FiLMBlock, SegmentPrior, dct_basis, harmonic_comb, noise_texture, seeded_normal, warp_frequency
from .model_base import LATENT, VAE, DecoderOutput, Param


class ConditionalVAE(VAE):
    """The default: a digit-conditioned 1-D convolutional VAE.

    The digit conditions encoder and decoder (embedding + FiLM in every decoder block), so the
    small latent is free to hold voice and prosody. The decoder also predicts a per-frame
    ``valid`` logit, which decides the utterance length.

    ``head="harmonic"`` (default) makes the decoder a source-filter model: per frame it
    predicts f0, a smooth harmonic envelope and a smooth aperiodic (noise) envelope, and the
    magnitude is ``harm_env * comb(f0) + noise_env``, where ``comb`` is the analysis window's
    main lobe placed at every harmonic of f0. Harmonics are sharp by construction, which a
    plain regression head on log-magnitude blurs. ``head="magnitude"`` predicts the
    log-magnitude bins directly.

    Options of the harmonic head (the natural-voice work; the defaults keep older bundles bit-identical):
    ``voicing=True`` adds a per-frame voicing output ``v`` in [0, 1] that gates the comb
    (``harm_env * v * comb(f0) + noise_env``), trained with BCE against the measured voicing and
    teacher-forced in training like f0, so fricatives and closures come out as noise;
    ``hard_gate=True`` makes the gate 0 or 1 outside training, like the teacher's gate.
    ``texture > 0`` multiplies the noise envelope by the normalised STFT magnitude of white noise
    (raised to ``texture``): the Rayleigh-distributed fine structure a real noise spectrum has,
    where the envelope alone is smooth. It is applied in eval mode (seeded from the latent, so a
    render stays deterministic) and when ``decode(..., texture=True)`` asks for it (adversarial
    stage); plain VAE training sees the smooth envelope.

    ``tvl_dim > 0``: time-varying latents ``w (B, S, tvl_dim)``, one per bottleneck segment (``S =
    n_frames / 8``), added to the decoder's input there (timing, local detail). Posterior: :meth:`encode_all`;
    when ``decode`` gets no ``w`` an autoregressive prior given code and digit (:class:`~.blocks.SegmentPrior`)
    draws it, in eval mode seeded from the code (a render stays a function of the knobs), spread x ``tvl_temp``.

    ``frame_noise > 0``: that many channels of per-frame Gaussian noise, projected (1x1 conv,
    zero-initialised) into the decoder's last, full-resolution stage, so an adversarially trained
    decoder has a source of frame-level detail that the global code cannot carry; seeded from the
    code in eval mode like the texture.
    ``residual=True``: a per-bin, per-frame correction of the harmonic head's log-magnitude (a 3-tap
    conv over time from the decoder's last features, zero-initialised), for spectro-temporal detail
    the two smooth envelopes and the comb cannot express (valleys, bursts, onsets).
    """

    kind = "cvae"
    conditional = True
    PARAMS = {
        "latent_dim": LATENT,
        "channels": Param(1, 1024),
        "digit_dim": Param(1, 512),
        "n_blocks": Param(1, 8),
        "head": Param(choices=("harmonic", "magnitude")),
        "n_ceps": Param(1, 4097),
        "voicing": Param(kind="bool"),
        "texture": Param(0.0, 1.0, kind="float"),
        "hard_gate": Param(kind="bool"),
        "tvl_dim": Param(0, 64),
        "tvl_temp": Param(0.0, 2.0, kind="float"),
        "frame_noise": Param(0, 64),
        "residual": Param(kind="bool"),
    }

    def __init__(
        self,
        cfg: SpectralConfig,
        latent_dim: int = 12,
        channels: int = 96,
        digit_dim: int = 32,
        n_blocks: int = 2,
        head: str = "harmonic",
        n_ceps: int = 32,
        voicing: bool = False,
        texture: float = 0.0,
        hard_gate: bool = False,
        tvl_dim: int = 0,
        tvl_temp: float = 1.0,
        frame_noise: int = 0,
        residual: bool = False,
    ) -> None:
        super().__init__(cfg, latent_dim)
        if head not in ("harmonic", "magnitude"):
            raise ValueError(f"unknown head {head!r}")
        if self.n_frames % 8:
            raise ValueError("ConditionalVAE needs max_frames divisible by 8")
        self.head = head
        self.voicing = bool(voicing)
        self.texture = float(texture)
        self.hard_gate = bool(hard_gate)
        self.tvl_dim, self.tvl_temp = int(tvl_dim), float(tvl_temp)
        c = channels
        self.digit_emb = nn.Embedding(N_DIGITS, digit_dim)
        self.enc_in = nn.Conv1d(self.n_bins + digit_dim, c, 5, padding=2)
        self.enc_down = nn.ModuleList([nn.Conv1d(c, c, 4, stride=2, padding=1) for _ in range(3)])
        self.enc_blocks = nn.ModuleList([FiLMBlock(c, digit_dim) for _ in range(3)])
        self.t0 = self.n_frames // 8
        self.to_stats = nn.Linear(c * self.t0, 2 * latent_dim)
        cond = latent_dim + digit_dim
        self.from_z = nn.Linear(cond, c * self.t0)
        if self.tvl_dim:  # posterior head on the encoder's bottleneck (frozen with it), prior, decoder input
            self.enc_tvl = nn.Conv1d(c, 2 * self.tvl_dim, 3, padding=1)
            self.tvl_prior = SegmentPrior(self.tvl_dim, cond, self.t0)
            self.from_w = nn.Conv1d(self.tvl_dim, c, 1)
        self.dec_up = nn.ModuleList([nn.ConvTranspose1d(c, c, 4, stride=2, padding=1) for _ in range(3)])
        self.dec_blocks = nn.ModuleList(
            [nn.ModuleList([FiLMBlock(c, cond, dilation=2**j) for j in range(n_blocks)]) for _ in range(3)]
        )
        self.pos = nn.Parameter(torch.zeros(1, c, self.n_frames))
        self.valid_head = nn.Conv1d(c, 1, 5, padding=2)
        if head == "magnitude":
            self.out = nn.Conv1d(c, self.n_bins, 1)
        else:
            self.n_ceps = n_ceps
            # 2 envelopes + f0
            self.out = nn.Conv1d(c, 2 * n_ceps + 1 + int(self.voicing), 1)
            self.register_buffer("basis", dct_basis(n_ceps, self.n_bins), persistent=False)
            freqs = torch.arange(self.n_bins, dtype=torch.float32, device="cpu") * cfg.sample_rate / cfg.n_fft
            self.register_buffer("bin_hz", freqs, persistent=False)
        self.frame_noise = int(frame_noise)
        if self.frame_noise:  # registered last: its weights start at zero, so a trained decoder is unchanged
            self.noise_in = nn.Conv1d(self.frame_noise, c, 1, bias=False)
            nn.init.zeros_(self.noise_in.weight)
        self.residual = bool(residual)
        if self.residual:  # likewise zero-initialised and registered last (after noise_in)
            self.res_out = nn.Conv1d(c, self.n_bins, 3, padding=1)
            nn.init.zeros_(self.res_out.weight)
            nn.init.zeros_(self.res_out.bias)

    def encode(self, x, digit):
        return self.encode_all(x, digit)[:2]

    def encode_all(self, x, digit):
        """``(mu, logvar)`` of the code ``(B, D)``, and of the time-varying latents ``(B, S, tvl_dim)`` (or None)."""
        e = self.digit_emb(digit)
        # enc_in over cat(x, digit) as the sum of its two parts: the same convolution (and weights),
        # but training computes no gradient for the data's channels (this layer's forward + backward:
        # 6.4-7.3 ms instead of 10.1 at batch 32 on a 2-core CPU)
        w, n, pad = self.enc_in.weight, self.n_bins, self.enc_in.padding
        h = F.conv1d(x.transpose(1, 2), w[:, :n], self.enc_in.bias, padding=pad)
        h = h + F.conv1d(e[:, :, None].expand(-1, -1, x.shape[1]), w[:, n:], padding=pad)
        for down, block in zip(self.enc_down, self.enc_blocks, strict=True):
            h = block(down(F.gelu(h)), e)
        h = F.gelu(h)
        mu, logvar = self.to_stats(h.flatten(1)).chunk(2, dim=-1)
        if not self.tvl_dim:
            return mu, logvar.clamp(-12, 6), None, None
        w_mu, w_logvar = self.enc_tvl(h).transpose(1, 2).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6), w_mu, w_logvar.clamp(-12, 6)

    def tvl_cond(self, z: torch.Tensor, digit: torch.Tensor) -> torch.Tensor:
        """What the time-varying latents' prior is conditioned on: global code and digit embedding."""
        return torch.cat([z, self.digit_emb(digit)], dim=-1)

    def sample_tvl(self, z: torch.Tensor, digit: torch.Tensor) -> torch.Tensor:
        """Time-varying latents ``(B, S, tvl_dim)`` from the prior (eval mode: seeded from ``z``)."""
        shape = (self.t0, self.tvl_dim)
        eps = torch.randn(z.shape[0], *shape, device=z.device) if self.training else seeded_normal(z, shape, 1)
        return self.tvl_prior.sample(self.tvl_cond(z, digit), eps, 1.0 if self.training else self.tvl_temp)

    def frame_noise_draw(self, z: torch.Tensor) -> torch.Tensor:
        """Per-frame noise ``(B, frame_noise, n_frames)`` for the decoder's last stage: random in
        training mode, in eval mode seeded from each latent row (a render is a function of the knobs)."""
        shape = (self.frame_noise, self.n_frames)
        return torch.randn(z.shape[0], *shape, device=z.device) if self.training else seeded_normal(z, shape, 2)

    def trunk(self, z: torch.Tensor, digit: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        cond = torch.cat([z, self.digit_emb(digit)], dim=-1)
        h = self.from_z(cond).view(z.shape[0], -1, self.t0)
        if self.tvl_dim:
            h = h + self.from_w((self.sample_tvl(z, digit) if w is None else w).transpose(1, 2))
        for i, (up, blocks) in enumerate(zip(self.dec_up, self.dec_blocks, strict=True)):
            h = up(F.gelu(h))
            if self.frame_noise and i == len(self.dec_up) - 1:
                h = h + self.noise_in(self.frame_noise_draw(z))
            for block in blocks:
                h = block(h, cond)
        return F.gelu(h + self.pos)

    def decode(
        self,
        z,
        digit,
        teacher_f0: torch.Tensor | None = None,
        teacher_voicing: torch.Tensor | None = None,
        texture: bool | None = None,
        w: torch.Tensor | None = None,
        formant: float | torch.Tensor = 1.0,
    ):
        """Decode; ``teacher_f0 (B, T)`` (Hz, NaN where unknown) replaces the predicted f0 in the
        harmonic comb during training, so the envelopes learn against correctly placed harmonics;
        ``teacher_voicing (B, T)`` in [0, 1] likewise replaces the voicing gate (``voicing=True``).
        ``texture``: apply the noise texture (default: in eval mode, when ``self.texture > 0``).
        ``w``: the time-varying latents (``tvl_dim > 0``); default: drawn from their prior.
        ``formant``: scale the frequency axis of the harmonic and noise envelopes by this ratio (one, or
        one per row ``(B,)``; :func:`~vaesynth.model.blocks.warp_frequency`, the vocal tract's size) before the
        comb, which stays at f0, and before the noise texture; 1.0 (default) leaves them untouched.
        Harmonic head only."""
        h = self.trunk(z, digit, w)
        valid = self.valid_head(h).squeeze(1)
        warp = not (isinstance(formant, float | int) and formant == 1.0)
        if self.head == "magnitude":
            if warp:
                raise ValueError("formants need the harmonic head")
            feat = torch.sigmoid(self.out(h)).transpose(1, 2)
            return DecoderOutput(feat, valid)
        harm_ln, noise_ln, f0, comb_f0, gate, v_logits = self.source_filter(h, teacher_f0, teacher_voicing)
        if warp:
            harm_ln, noise_ln = warp_frequency(harm_ln, formant), warp_frequency(noise_ln, formant)
        comb = harmonic_comb(comb_f0, self.bin_hz, self.cfg.sample_rate / self.cfg.n_fft)
        if gate is not None:
            comb = comb * gate.unsqueeze(-1)
        span = self.span
        if self.texture > 0 and (texture if texture is not None else not self.training):
            # white noise, random in training mode, in eval mode seeded from each latent's bytes
            n = self.n_frames * self.cfg.hop
            noise = torch.randn(z.shape[0], n, device=z.device) if self.training else seeded_normal(z, (n,))
            noise_ln = noise_ln + self.texture * noise_texture(noise, self.cfg.n_fft, self.cfg.hop, self.n_frames)
        log_mag = torch.logaddexp(harm_ln + torch.log(comb + 1e-6), noise_ln)
        if self.residual:
            log_mag = log_mag + self.res_out(h).transpose(1, 2) * span
        feat = (log_mag / span).clamp(0.0, 1.0)
        return DecoderOutput(feat, valid, f0, v_logits)

    @property
    def span(self) -> float:
        """One feature unit (the whole dB range) in natural-log magnitude."""
        return (self.cfg.db_max - self.cfg.db_min) / 20.0 * math.log(10.0)

    def source_filter(self, h, teacher_f0=None, teacher_voicing=None):
        """The harmonic head's parts from the trunk's output ``h``: harmonic and noise envelopes
        (natural-log magnitude, 0 = ``db_min``), predicted f0, the f0 the comb uses, the voicing gate
        (None without ``voicing``) and its logits."""
        o = self.out(h).transpose(1, 2)  # (B, T, 2K+1[+1])
        k = self.n_ceps
        harm_ln = (o[..., :k] @ self.basis) * self.span  # smooth envelopes from the cosine basis
        noise_ln = (o[..., k : 2 * k] @ self.basis) * self.span
        f0 = 60.0 * torch.exp(torch.sigmoid(o[..., 2 * k]) * math.log(400.0 / 60.0))  # 60..400 Hz
        comb_f0 = f0 if teacher_f0 is None else torch.where(torch.isnan(teacher_f0), f0.detach(), teacher_f0)
        gate = v_logits = None
        if self.voicing:
            v_logits = o[..., 2 * k + 1]
            # hard_gate: outside training the gate is 0 or 1, as the teacher-forced gate was in training
            gate = (v_logits > 0).float() if self.hard_gate and not self.training else torch.sigmoid(v_logits)
            if teacher_voicing is not None:
                gate = torch.where(torch.isnan(teacher_voicing), gate, teacher_voicing)
        return harm_ln, noise_ln, f0, comb_f0, gate, v_logits

    def decode_parts(self, z: torch.Tensor, digit: torch.Tensor) -> dict[str, torch.Tensor]:
        """The harmonic head's source-filter description, for a vocoder (``experiments/natural_voice_vocoder.py``):
        ``harm_ln``, ``noise_ln`` ``(B, T, F)`` (natural-log magnitude, 0 = ``db_min``, before the
        comb and the noise texture), ``f0`` (Hz), ``gate`` (1 where the model has no gate) and
        ``valid`` logits, ``(B, T)`` each; what :meth:`decode` mixes into one magnitude."""
        if self.head != "harmonic":
            raise ValueError("decode_parts needs the harmonic head")
        h = self.trunk(z, digit)
        harm_ln, noise_ln, f0, _, gate, _ = self.source_filter(h)
        gate = torch.ones_like(f0) if gate is None else gate
        valid = self.valid_head(h).squeeze(1)
        return {"harm_ln": harm_ln, "noise_ln": noise_ln, "f0": f0, "gate": gate, "valid": valid}
