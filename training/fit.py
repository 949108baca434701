"""Fit a model on FSDD with Lightning and write its bundle.

What is trained comes from one :class:`training.config.Recipe`; this module only decides where
and how: data, output folder, run folder (checkpoints, CSV logs), accelerator, devices.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from vaesynth.bundle import default_models_dir

from .bundling import write_bundle
from .config import Recipe, recipe_for
from .data import Dataset, find_data, load_dataset, runs_dir
from .experiment import VAEExperiment
from .latent_stats import encode_posteriors, fit_latent_stats


def tensors(ds: Dataset) -> TensorDataset:
    return TensorDataset(
        torch.from_numpy(ds.features.astype(np.float32)),
        torch.from_numpy(ds.digit),
        torch.from_numpy(ds.n_valid),
        torch.from_numpy(np.maximum(ds.f0, 1.0).astype(np.float32)),
        torch.from_numpy(ds.voicing.astype(np.float32)),
    )


def fit(
    recipe: Recipe | str,
    data: str | Path | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    seed: int | None = None,
    accelerator: str = "cpu",
    devices: int | str | list[int] = 1,
    limit_per_digit_speaker: int | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
    overrides: dict | None = None,
) -> Path | None:
    """Train ``recipe`` (or the shipped recipe of a model kind) and write its bundle.

    ``epochs``, ``seed`` and ``overrides`` (recipe fields) change the recipe for this run.
    The bundle goes to ``out`` (default ``resources/models/<kind>``); checkpoints and CSV logs
    to ``run_dir`` (default ``<user cache>/vaesynth/runs/<kind>``). With several processes
    (``devices``) every process runs this function; only global rank 0 writes the bundle and
    returns its folder, the others return ``None``.
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    recipe = recipe_for(recipe) if isinstance(recipe, str) else recipe
    recipe = recipe.with_overrides(**(overrides or {}), epochs=epochs, seed=seed)
    kind = recipe.kind
    out = Path(out) if out else default_models_dir() / kind
    run_dir = Path(run_dir) if run_dir else runs_dir() / kind
    ckpt_dir = run_dir / "checkpoints"

    L.seed_everything(recipe.seed, workers=True, verbose=False)
    torch.set_flush_denormal(True)  # denormals in the harmonic comb's tails slow CPU training many-fold
    # monitor=None + save_top_k=1 keeps the newest epoch; save_last adds last.ckpt for --resume
    ckpt = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=1, every_n_epochs=1)
    trainer = L.Trainer(
        max_epochs=recipe.epochs,
        accelerator=accelerator,
        devices=devices,
        logger=CSVLogger(str(run_dir), name="logs"),
        callbacks=[ckpt],
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic=False,
        log_every_n_steps=10,
    )
    say = print if trainer.global_rank == 0 else (lambda *a, **k: None)
    last = ckpt_dir / "last.ckpt"
    ckpt_path = str(last) if resume and last.is_file() else None
    if resume and ckpt_path is None:
        say(f"no checkpoint to resume in {ckpt_dir}; starting fresh")

    folder = find_data(data)
    ds = load_dataset(folder, recipe.spectral, limit_per_digit_speaker=limit_per_digit_speaker)
    if ds.report is not None:
        cached = " (features from the cache)" if ds.report.from_cache else ""
        say(f"data {folder}: {ds.report.summary()}{cached}")
    train, test = ds.split()
    if len(test) == 0:  # tiny subsets: validate on train
        test = train
    batch_size = min(recipe.batch_size, len(train))  # tiny subsets still make one step per epoch
    module = VAEExperiment(recipe)
    g = torch.Generator().manual_seed(recipe.seed)
    train_dl = DataLoader(tensors(train), batch_size=batch_size, shuffle=True, generator=g, drop_last=True)
    val_dl = DataLoader(tensors(test), batch_size=256)
    t0 = time.perf_counter()
    resume_hint = f"resume with 'vaesynth-train fit --model {kind} --resume' (checkpoints in {ckpt_dir})"
    try:
        trainer.fit(module, train_dl, val_dl, ckpt_path=ckpt_path)
    except SystemExit:  # Lightning turns Ctrl+C into a graceful shutdown + exit(1)
        raise KeyboardInterrupt(f"training interrupted after epoch {trainer.current_epoch}; {resume_hint}") from None
    seconds = time.perf_counter() - t0
    if trainer.interrupted:
        raise KeyboardInterrupt(f"training interrupted; {resume_hint}")
    if trainer.global_rank != 0:
        return None
    model = module.model.cpu().eval()
    mu, var = encode_posteriors(model, train)
    stats = fit_latent_stats(mu, train.digit, train.speaker, len(ds.speakers), var=var)
    training_info = {
        "epochs": recipe.epochs, "seed": recipe.seed, "seconds": round(seconds, 1), "lr": recipe.lr,
        "batch_size": recipe.batch_size, "beta": recipe.beta, "free_bits": recipe.free_bits,
        "n_train": len(train), "device": accelerator,
        # the run's folder name only (under <user cache>/vaesynth/runs/): a shipped bundle carries no local path
        "run": run_dir.name,
        "load_report": ds.report.summary() if ds.report else "",
        "recipe": recipe.to_dict(),
    }  # fmt: skip
    write_bundle(
        model, recipe.params, recipe.spectral, stats, ds.speakers, out, name=kind,
        data_fingerprint=ds.fingerprint, training=training_info,
    )  # fmt: skip
    (run_dir / "last_fit.json").write_text(json.dumps(training_info, indent=2))
    return out
