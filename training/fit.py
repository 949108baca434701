"""Fit a model on FSDD with Lightning and write its bundle.

What is trained comes from one :class:`training.config.Recipe`; this module only decides where
and how: data, output folder, run folder (checkpoints, CSV logs), accelerator, devices, nodes.
Every problem a user can cause (bad settings, no GPU, an output path that is a file, a corrupt
checkpoint, too little data for the processes) is raised as a :class:`TrainingError` before
training starts, so the command line shows one sentence instead of a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from vaesynth.digits import N_DIGITS
from vaesynth.model.bundle import BundleError, load_bundle, save_bundle
from vaesynth.model.catalog import default_models_dir
from vaesynth.sound.safeio import atomic_write, write_target
from vaesynth.voices.voice import fit_latent_stats

from .annotate import annotate_bundle
from .bundling import check_bundle_destination, staging_folder, swap_in, write_bundle
from .config import (
    ACCELERATORS,
    STRATEGIES,
    ConfigError,
    Recipe,
    TrainingError,
    model_signature_params,
    recipe_for,
)
from .data import Dataset, find_data, load_dataset, runs_dir
from .experiment import VAEExperiment
from .latent_stats import encode_posteriors


def tensors(ds: Dataset) -> TensorDataset:
    return TensorDataset(
        torch.from_numpy(ds.features.astype(np.float32)),
        torch.from_numpy(ds.digit),
        torch.from_numpy(ds.n_valid),
        torch.from_numpy(np.maximum(ds.f0, 1.0).astype(np.float32)),
        torch.from_numpy(ds.voicing.astype(np.float32)),
    )


def export_bundle(model, recipe: Recipe, ds: Dataset, train: Dataset, out: Path, training: dict) -> None:
    """Write the trained ``model`` (eval mode, CPU) as a bundle in ``out``: its latent statistics fitted
    to the posteriors of ``train``, the recipe's architecture, features and render settings."""
    mu, var = encode_posteriors(model, train)
    stats = fit_latent_stats(mu, train.digit, train.speaker, len(ds.speakers), var=var)
    folder = write_bundle(
        model, recipe.params, recipe.spectral, stats, ds.speakers, out, name=recipe.kind,
        data_fingerprint=ds.fingerprint, training=training, render=recipe.render or None,
    )  # fmt: skip
    if recipe.texture:  # the texture stage's bank, from the same training split and posteriors
        from .texture import attach_bank

        save_bundle(attach_bank(load_bundle(folder), train, recipe.texture, mu, var), folder)


def validation_interval(epochs: int, at_most: int = 5) -> int:
    """Validate every this many epochs: the largest divisor of ``epochs`` up to ``at_most``, so the
    last epoch is always validated. Validation (the 300 test recordings) costs about as much as 2-3
    training steps of 84 per epoch on a 2-core CPU; it does not enter training (though its data loader
    draws one number from the global RNG, so runs that validate at different epochs are not bit-identical)."""
    return max(n for n in range(1, min(at_most, epochs) + 1) if epochs % n == 0)


def check_accelerator(accelerator: str, devices: int | str | list[int], num_nodes: int = 1) -> None:
    """Raise :class:`ConfigError` unless this machine can run ``devices`` of ``accelerator``."""
    if accelerator not in ACCELERATORS:
        raise ConfigError(f"unknown accelerator {accelerator!r}; choose from {', '.join(ACCELERATORS)}")
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise ConfigError(f"--num-nodes must be a positive integer, got {num_nodes!r}")
    if isinstance(devices, bool) or (isinstance(devices, int) and devices < 1):
        raise ConfigError(f"--devices must be a positive integer, a list of GPU indices or 'auto', got {devices!r}")
    if isinstance(devices, str) and devices != "auto":
        raise ConfigError(f"--devices must be a positive integer, a list of GPU indices or 'auto', got {devices!r}")
    wanted = devices if isinstance(devices, int) else len(devices) if isinstance(devices, list) else 1
    if accelerator in ("gpu", "cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA support"
            raise ConfigError(
                f"--accelerator {accelerator}: no CUDA GPU is available on this machine (torch {torch.__version__}, "
                f"{build}); use --accelerator cpu"
            )
        if isinstance(devices, list) and max(devices) >= n:
            raise ConfigError(f"--devices {devices}: this machine has {n} GPU(s), indices 0-{n - 1}")
        if wanted > n:
            raise ConfigError(f"--devices {wanted}: this machine has only {n} GPU(s)")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--accelerator mps: Apple's MPS is not available on this machine; use --accelerator cpu")
    if isinstance(devices, list) and accelerator == "cpu":
        raise ConfigError("--devices as a list of indices is for GPUs; on CPU give a number of processes")
    cores = os.cpu_count() or 1
    if accelerator == "cpu" and isinstance(devices, int) and devices > cores:
        raise ConfigError(f"--devices {devices}: this machine has {cores} CPU core(s); use at most {cores} processes")


def _normalised_model(kind: str, params: dict) -> dict:
    """``params`` with every model default filled in (to compare architectures, not spellings)."""
    return {**model_signature_params(kind), **params}


def resume_checkpoint(ckpt_dir: Path, recipe: Recipe) -> tuple[Path | None, list[str]]:
    """The checkpoint to resume from, and notes about the ones that could not be used.

    ``last.ckpt`` first, then the newest other checkpoint (Lightning keeps the newest epoch's
    file too), so a damaged ``last.ckpt`` does not lose the run. Raises :class:`TrainingError`
    when checkpoints exist but none is readable, or when they belong to a different recipe.
    """
    last = ckpt_dir / "last.ckpt"
    others = sorted(
        (p for p in ckpt_dir.glob("*.ckpt") if p.name != last.name and p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    candidates = ([last] if last.is_file() else []) + others
    if not candidates:
        return None, []
    notes = []
    for path in candidates:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            hp = dict(state["hyper_parameters"])
            int(state["epoch"])
        except Exception as e:  # noqa: BLE001 - truncated zip, not a checkpoint, foreign pickle: all "unreadable"
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            notes.append(f"{path.name} is unreadable ({first[:120]})")
            continue
        kind, params = hp.get("kind"), hp.get("params")
        if (
            kind != recipe.kind
            or not isinstance(params, dict)
            or (_normalised_model(kind, params) != _normalised_model(recipe.kind, recipe.params))
        ):
            raise TrainingError(
                f"checkpoint {path} was made for another model ({kind} {params}); "
                "start fresh without --resume, or pick another --runs-dir"
            )
        if hp.get("epochs") != recipe.epochs:
            raise TrainingError(
                f"checkpoint {path} belongs to a {hp.get('epochs')}-epoch run (its learning-rate schedule is fixed "
                f"to that length); resume with --epochs {hp.get('epochs')}, or start fresh without --resume"
            )
        return path, notes
    raise TrainingError(
        f"cannot resume: no readable checkpoint in {ckpt_dir} ({'; '.join(notes)}); "
        "delete the folder to start fresh, or run without --resume"
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
    num_nodes: int = 1,
    strategy: str = "auto",
    limit_per_digit_speaker: int | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
    overrides: dict | None = None,
) -> Path | None:
    """Train ``recipe`` (or the shipped recipe of a model kind) and write its bundle.

    ``epochs``, ``seed`` and ``overrides`` (recipe fields) change the recipe for this run.
    The bundle goes to ``out`` (default ``resources/models/<kind>``); checkpoints and CSV logs
    to ``run_dir`` (default ``<user cache>/vaesynth/runs/<kind>``). With several processes
    (``devices``, ``num_nodes``) every process runs this function; only global rank 0 writes
    the bundle and returns its folder, the others return ``None``.
    """
    recipe = recipe_for(recipe) if isinstance(recipe, str) else recipe
    planned_epochs = recipe.epochs  # the recipe's own length (a shortened run shortens its adversarial stage too)
    recipe = recipe.with_overrides(**(overrides or {}), epochs=epochs, seed=seed)
    kind = recipe.kind
    out = check_bundle_destination(Path(out) if out else default_models_dir() / kind)
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    check_accelerator(accelerator, devices, num_nodes)
    run_dir = Path(run_dir) if run_dir else runs_dir() / kind
    for folder in (run_dir.parent, run_dir):
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"run folder {folder} is not a folder")
    # the data before Lightning loads: bad data is one line in a few seconds
    folder = find_data(data)
    ds = load_dataset(folder, recipe.spectral, limit_per_digit_speaker=limit_per_digit_speaker)
    train, test = ds.split()
    if len(test) == 0:  # tiny subsets: validate on train
        test = train
    if len(train) == 0:
        raise TrainingError("no training recordings (takes with index 5 or more); use more data or a larger --limit")
    missing = sorted(set(range(N_DIGITS)) - {int(d) for d in train.digit})
    if missing:  # a bundle's latent statistics need every digit: fail now, not after training
        raise TrainingError(f"the training recordings lack digits {missing}; a model needs all ten (use more data)")
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    ckpt_dir = run_dir / "checkpoints"

    L.seed_everything(recipe.seed, workers=True, verbose=False)
    torch.set_flush_denormal(True)  # denormals in the harmonic comb's tails slow CPU training many-fold
    # monitor=None + save_top_k=1 keeps the newest epoch; save_last adds last.ckpt for --resume; saved
    # at the end of every training epoch, also those without validation
    # Lightning's banner lines (GPU/TPU available ...) would precede every one-line error
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    check_checkpoint_folder(ckpt_dir)
    ckpt = ModelCheckpoint(
        dirpath=ckpt_dir, save_last=True, save_top_k=1, every_n_epochs=1, save_on_train_epoch_end=True
    )
    try:
        trainer = L.Trainer(
            max_epochs=recipe.epochs,
            check_val_every_n_epoch=validation_interval(recipe.epochs),
            accelerator=accelerator,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            logger=CSVLogger(str(run_dir), name="logs"),
            callbacks=[ckpt],
            enable_progress_bar=progress,
            enable_model_summary=False,
            deterministic=False,
            log_every_n_steps=10,
        )
    except (MisconfigurationException, ValueError, RuntimeError) as e:
        raise ConfigError(f"cannot set up training: {str(e).strip().splitlines()[0]}") from None
    say = print if trainer.global_rank == 0 else (lambda *a, **k: None)

    ckpt_path = None
    if resume:
        found, notes = resume_checkpoint(ckpt_dir, recipe)
        for note in notes:
            say(f"{note}; skipping it")
        if found is None:
            say(f"no checkpoint to resume in {ckpt_dir}; starting fresh")
        else:
            ckpt_path = str(found)

    if ds.report is not None:
        cached = " (features from the cache)" if ds.report.from_cache else ""
        say(f"data {folder}: {ds.report.summary()}{cached}")
    world = trainer.world_size
    if len(train) < world:
        raise TrainingError(
            f"{len(train)} training recordings cannot feed {world} processes; use more data or fewer --devices"
        )
    # every process gets at least one full batch, so small data still trains (and schedules) on many processes
    batch_size = min(recipe.batch_size, len(train) // world)
    module = VAEExperiment(recipe)
    g = torch.Generator().manual_seed(recipe.seed)
    train_dl = DataLoader(tensors(train), batch_size=batch_size, shuffle=True, generator=g, drop_last=True)
    val_dl = DataLoader(tensors(test), batch_size=256)
    t0 = time.perf_counter()
    limit = limit_per_digit_speaker
    resume_hint = "resume with: " + resume_command(kind, recipe.epochs, out, run_dir, data, seed, limit)
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
        if recipe.epochs < planned_epochs:  # a shortened run (--epochs) shortens the adversarial stage alike
            scale = recipe.epochs / planned_epochs
            adv["steps"] = max(1, round(adv["steps"] * scale))
            adv["warmup_steps"] = round(adv.get("warmup_steps", AdvConfig.warmup_steps) * scale)
        adv_cfg = AdvConfig(**adv)
        # the stage's own batch size (AdvConfig.batch_size); the VAE's loader where the two agree
        adv_batch, adv_dl = min(adv_cfg.batch_size, len(train)), train_dl
        if adv_batch != batch_size:
            adv_dl = DataLoader(tensors(train), batch_size=adv_batch, shuffle=True, generator=g, drop_last=True)
        adv_log = finetune(module, adv_dl, adv_cfg, device=device)
    seconds = time.perf_counter() - t0
    if trainer.global_rank != 0:
        return None
    model = module.model.cpu().eval()
    training_info = {
        "epochs": recipe.epochs, "seed": recipe.seed, "seconds": round(seconds, 1), "lr": recipe.lr,
        "batch_size": recipe.batch_size, "beta": recipe.beta, "free_bits": recipe.free_bits,
        "n_train": len(train), "device": accelerator, "processes": world,
        # the run's folder name only (under <user cache>/vaesynth/runs/): a shipped bundle carries no local path
        "run": run_dir.name,
        "load_report": ds.report.summary() if ds.report else "",
        "recipe": recipe.to_dict(),
    }  # fmt: skip
    if adv_log is not None:
        training_info["adversarial"] = {**recipe.adv, **adv_log}
    # the new bundle is written beside the old one, validated by loading, and only then swapped in
    staged = staging_folder(out)
    try:
        export_bundle(model, recipe, ds, train, staged, training_info)
        annotate_bundle(staged, train=train)  # the voice map and measured knob labels, stored for the app
        load_bundle(staged)
        swap_in(staged, out)
    except BundleError as e:
        raise TrainingError(f"the trained bundle does not load ({e}); {out} was left as it was") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    atomic_write(run_dir / "last_fit.json", json.dumps(training_info, indent=2).encode())
    return out


def resume_command(kind: str, epochs: int, out: Path, run_dir: Path, data, seed, limit) -> str:  # noqa: ANN001
    """The command that resumes this run: the same model, length, bundle, run folder and data."""
    parts = ["vaesynth-train", "fit", "--model", kind, "--resume", "--epochs", str(epochs), "--out", str(out)]
    if run_dir.name == kind:  # the command line's --runs-dir holds one folder per model
        parts += ["--runs-dir", str(run_dir.parent.absolute())]
    for option, value in (("--data", data), ("--seed", seed), ("--limit", limit)):
        if value is not None:
            parts += [option, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def check_checkpoint_folder(ckpt_dir: Path) -> None:
    """Refuse a checkpoint folder holding something Lightning would write through: a FIFO, a device, or a
    link to one (:func:`vaesynth.sound.safeio.write_target`); checked before training starts."""
    if not ckpt_dir.is_dir():
        return
    for entry in ckpt_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            continue
        try:
            write_target(entry)
        except OSError as e:
            raise ConfigError(f"cannot write checkpoints to {ckpt_dir}: {e}") from None
