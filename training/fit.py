"""Fit a model on FSDD with Lightning and export it as a bundle."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from vaesynth.bundle import default_models_dir
from vaesynth.spectral import SpectralConfig

from .data import Dataset, cache_root, find_data, load_dataset
from .export import export_bundle, fit_latent_stats


@dataclass
class Recipe:
    """Everything that defines one model's training run, in one place."""

    kind: str
    params: dict
    epochs: int
    lr: float = 2e-3
    batch_size: int = 32
    beta: float = 1.0
    warmup_epochs: int = 10
    free_bits: float = 0.0
    adv: dict = field(default_factory=dict)  # adversarial stage (training.adversarial.AdvConfig fields); {} = none
    render: dict = field(default_factory=dict)  # per-bundle render settings stored in the bundle (Synth)
    spectral: dict = field(default_factory=lambda: SpectralConfig().to_dict())


RECIPES: dict[str, Recipe] = {
    "mlp": Recipe("mlp", {"latent_dim": 16, "hidden": 64}, epochs=100, lr=2e-3),
    "cnn": Recipe("cnn", {"latent_dim": 32, "channels": 16}, epochs=40, lr=2e-3),
    # issue 13 ("Natural voice", docs/results/natural_voice.md): voicing-gated comb, noise texture,
    # 32-dim code at beta 0.05, then 1000 adversarial decoder steps; rendered without a fade-out and
    # with each digit's last half hop cut (see vaesynth.synth.Synth)
    "cvae": Recipe(
        "cvae",
        {"latent_dim": 32, "channels": 96, "head": "harmonic", "voicing": True, "texture": 1.0, "hard_gate": True},
        epochs=40,
        lr=2e-3,
        beta=0.05,
        adv={"steps": 1000, "adv_weight": 10.0},
        render={"fade_out_s": 0.0, "trim_end_s": 0.004},
    ),
}


def tensors(ds: Dataset) -> TensorDataset:
    return TensorDataset(
        torch.from_numpy(ds.features.astype(np.float32)),
        torch.from_numpy(ds.digit),
        torch.from_numpy(ds.n_valid),
        torch.from_numpy(np.maximum(ds.f0, 1.0).astype(np.float32)),
        torch.from_numpy(ds.voicing.astype(np.float32)),
    )


@torch.inference_mode()
def encode_posteriors(model, ds: Dataset, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and variances, each ``(N, D)``, of every utterance in ``ds``."""
    model.eval()
    mus, variances = [], []
    for i in range(0, len(ds), batch):
        x = torch.from_numpy(ds.features[i : i + batch].astype(np.float32))
        mu, logvar = model.encode(x, torch.from_numpy(ds.digit[i : i + batch]))
        mus.append(mu.numpy())
        variances.append(logvar.exp().numpy())
    return np.concatenate(mus), np.concatenate(variances)


def runs_dir() -> Path:
    return cache_root() / "runs"


def fit(
    kind: str,
    data: str | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    seed: int = 0,
    accelerator: str = "cpu",
    devices: int | str = 1,
    limit_per_digit_speaker: int | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
    overrides: dict | None = None,
) -> Path:
    """Train model ``kind`` and export its bundle to ``out`` (default ``resources/models/<kind>``)."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from .lit import VAEExperiment

    if kind not in RECIPES:
        raise ValueError(f"unknown model {kind!r}; choose from {', '.join(RECIPES)}")
    recipe = RECIPES[kind]
    if overrides:
        recipe = Recipe(**{**recipe.__dict__, **overrides})
    epochs = epochs or recipe.epochs
    cfg = SpectralConfig.from_dict(recipe.spectral)
    folder = find_data(data)
    ds = load_dataset(folder, cfg, limit_per_digit_speaker=limit_per_digit_speaker)
    train, test = ds.split()
    if len(test) == 0:  # tiny subsets: validate on train
        test = train
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_flush_denormal(True)  # denormals in the harmonic comb's tails slow CPU training many-fold
    run_dir = Path(run_dir) if run_dir else runs_dir() / kind
    run_dir.mkdir(parents=True, exist_ok=True)
    module = VAEExperiment(
        kind, recipe.params, cfg.to_dict(), lr=recipe.lr, beta=recipe.beta,
        warmup_epochs=min(recipe.warmup_epochs, max(1, epochs // 3)), free_bits=recipe.free_bits, epochs=epochs,
    )  # fmt: skip
    # monitor=None + save_top_k=1 keeps the newest epoch; save_last adds last.ckpt for --resume
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=1, every_n_epochs=1)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=devices,
        logger=CSVLogger(str(run_dir), name="logs"),
        callbacks=[ckpt],
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic=False,
        log_every_n_steps=10,
    )
    g = torch.Generator().manual_seed(seed)
    batch_size = min(recipe.batch_size, len(train))  # tiny subsets still make one step per epoch
    train_dl = DataLoader(tensors(train), batch_size=batch_size, shuffle=True, generator=g, drop_last=True)
    val_dl = DataLoader(tensors(test), batch_size=256)
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt_path = str(last) if resume and last.is_file() else None
    if resume and ckpt_path is None:
        print(f"no checkpoint to resume in {last.parent}; starting fresh")
    t0 = time.perf_counter()
    resume_hint = f"resume with 'vaesynth-train fit --model {kind} --resume' (checkpoints in {last.parent})"
    try:
        trainer.fit(module, train_dl, val_dl, ckpt_path=ckpt_path)
    except SystemExit:  # Lightning turns Ctrl+C into a graceful shutdown + exit(1)
        raise KeyboardInterrupt(f"training interrupted after epoch {trainer.current_epoch}; {resume_hint}") from None
    if trainer.interrupted:
        raise KeyboardInterrupt(f"training interrupted; {resume_hint}")
    adv_log = None
    if recipe.adv.get("steps", 0) > 0 and trainer.global_rank == 0:
        from .adversarial import AdvConfig, finetune

        device = "cuda" if accelerator in ("gpu", "cuda") else "cpu"
        adv = dict(recipe.adv)
        if epochs < recipe.epochs:  # a shortened run (--epochs) shortens the adversarial stage alike
            scale = epochs / recipe.epochs
            adv["steps"] = max(1, round(adv["steps"] * scale))
            adv["warmup_steps"] = round(adv.get("warmup_steps", AdvConfig.warmup_steps) * scale)
        adv_log = finetune(module, train_dl, AdvConfig(**adv), device=device)
    seconds = time.perf_counter() - t0
    if trainer.global_rank != 0:
        return Path(out) if out else default_models_dir() / kind
    model = module.model.cpu().eval()
    mu, var = encode_posteriors(model, train)
    stats = fit_latent_stats(mu, train.digit, train.speaker, len(ds.speakers), var=var)
    out = Path(out) if out else default_models_dir() / kind
    training_info = {
        "epochs": epochs, "seed": seed, "seconds": round(seconds, 1), "lr": recipe.lr,
        "batch_size": recipe.batch_size, "beta": recipe.beta, "free_bits": recipe.free_bits,
        "n_train": len(train), "device": accelerator, "log_dir": str(run_dir),
        "load_report": ds.report.summary() if ds.report else "",
    }  # fmt: skip
    if adv_log is not None:
        training_info["adversarial"] = {**recipe.adv, **adv_log}
    export_bundle(
        model, recipe.params, cfg, stats, ds.speakers, out, name=kind,
        data_fingerprint=ds.fingerprint, training=training_info, render=recipe.render or None,
    )  # fmt: skip
    (run_dir / "last_fit.json").write_text(json.dumps(training_info, indent=2))
    return out
