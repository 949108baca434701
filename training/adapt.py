"""Learn a person's voice: adapt the default model to a few minutes of takes (``vaesynth-train adapt``).

The takes (a folder of WAVs, ``{digit}_*.wav`` or any name, the digit then recognised) are checked
as voice-in checks a take (:func:`vaesynth.voices.voice_in.load_full`: level, clipping, length),
analysed like the training recordings (features, f0 track, voicing) and encoded by the base
model's frozen encoder. Then part of the decoder (``method``, measured in ``docs/learn_voice.md``)
is fine-tuned on them with the training loss (:meth:`training.experiment.VAEExperiment.losses`,
teacher-forced f0 and voicing), pulled towards the base weights by an L2 prior, so twenty takes
move the voice without unlearning how to speak a digit.

The result is a *personal model*: a bundle in :func:`vaesynth.model.catalog.user_models_dir` that
stores only the weights it changed, over its base (``config.json`` → ``base``: the base's name and
weights fingerprint, checked on load), the person's latent statistics (their takes' posteriors:
a fresh voice is one of their takes, varied) and a texture bank of the person's own residuals.
It is written in a hidden staging folder, loaded back and validated, then renamed into place:
an interrupted or failed run leaves nothing that is listed, and the next run removes the leftovers.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vaesynth.digits import N_DIGITS
from vaesynth.model.bundle import Bundle, BundleError, LatentStats, load_bundle, save_bundle, weights_fingerprint
from vaesynth.model.catalog import check_personal_name, is_personal, model_id, resolve_model, user_models_dir

from .config import ConfigError, Recipe, TrainingError, recipe_for, texture_options
from .data import Dataset, featurise

TAKE_NAME_RE = re.compile(r"(\d)(?:[_\- .].*)?\.wav", re.IGNORECASE)  # "7_a.wav", "7.wav", "7-take2.wav"
MIN_TAKES = 10  # one of each digit at the least
MAX_TAKES = 300  # a folder with more is not a few minutes of takes
MIXED_SPREAD_ST = 9.0  # takes' median f0 spread (10th-90th percentile, semitones) above this: warn, mixed speakers
#: what each method fine-tunes: parameter-name prefixes of :class:`vaesynth.model.cvae.ConditionalVAE`
DECODER = ("from_z", "from_w", "tvl_prior", "dec_up", "dec_blocks", "pos", "valid_head", "out", "noise_in", "res_out")
METHODS: dict[str, tuple[str, ...]] = {
    "knobs": (),  # nothing: the person's takes become the knob space (today's voice-in, twenty times)
    "film": ("dec_blocks.0.0.film", "dec_blocks.0.1.film", "dec_blocks.1.0.film", "dec_blocks.1.1.film",
             "dec_blocks.2.0.film", "dec_blocks.2.1.film"),  # how the condition scales and shifts each block
    "head": ("dec_blocks.2", "out", "valid_head", "pos"),  # the last stage and the source-filter head
    "decoder": DECODER,  # the whole decoder, held near the base by the prior
}  # fmt: skip


class AdaptError(TrainingError):
    """The takes cannot make a personal model (one readable sentence)."""


class AdaptCancelled(AdaptError):
    """The run was cancelled (Cancel, Ctrl+C or SIGTERM); nothing was written."""


@dataclass(frozen=True)
class AdaptSettings:
    """How a voice is learnt. ``method``: which weights change (:data:`METHODS`); ``steps`` of AdamW
    at ``lr`` (cosine decay) on all takes at once; ``prior``: weight of the L2 pull towards the base
    weights (summed squared difference); ``spread``: the knobs' reach about the person's voice (the
    base's per-digit spread times this); ``post_var``: the stored takes' posterior variances times this
    (how far a fresh voice strays from the take it is drawn from); ``texture``: build a bank of the
    person's own residuals."""

    method: str = "decoder"
    steps: int = 300
    lr: float = 1e-3
    prior: float = 10.0
    spread: float = 0.5
    post_var: float = 1.0
    texture: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 0 <= self.steps <= 100_000:
            raise ConfigError(f"steps must be a whole number in 0..100000, got {self.steps!r}")
        for name, lo, hi in (("lr", 1e-6, 1.0), ("prior", 0.0, 1e6), ("spread", 0.01, 2.0), ("post_var", 0.0, 4.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise ConfigError(f"{name} must be a number in {lo:g}..{hi:g}, got {v!r}")


@dataclass
class Take:
    """One checked take: its file, digit (from the name, or recognised), samples at the model rate."""

    path: Path
    digit: int
    recognised: bool
    wave: np.ndarray
    f0_hz: float | None


Progress = Callable[[float, str], None]


def _quiet(_fraction: float, _text: str) -> None:
    pass


def take_files(folder: str | Path) -> list[Path]:
    """The WAV files of ``folder`` (not its subfolders), sorted; :class:`AdaptError` if there are none or too many."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AdaptError(f"{folder} is not a folder of takes")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and not p.name.startswith("."))
    if not files:
        raise AdaptError(f"{folder} holds no WAV takes ({{digit}}_*.wav, e.g. 7_1.wav)")
    if len(files) > MAX_TAKES:
        raise AdaptError(f"{folder} holds {len(files)} WAV files, at most {MAX_TAKES}: a few minutes is enough")
    return files


def read_takes(folder: str | Path, synth, progress: Progress = _quiet) -> list[Take]:  # noqa: ANN001
    """Load and check every take of ``folder`` as voice-in does; the digit comes from the file name
    (``{digit}_*.wav``) or is recognised by ``synth`` (a digit-conditional model). The first take that
    fails stops the run with :class:`AdaptError` naming it (the whole set is the person's voice: a
    silent or clipped take would teach the model silence or distortion)."""
    from vaesynth.voices.voice_in import VoiceInError, load_full, recognise_digit
    from vaesynth.voices.voice_norm import f0_median

    files = take_files(folder)
    cfg = synth.spectral
    takes = []
    for i, path in enumerate(files):
        progress(0.1 * i / len(files), f"checking {path.name}")
        try:
            loaded = load_full(path, cfg=cfg)
            named = TAKE_NAME_RE.fullmatch(path.name)
            digit = int(named.group(1)) if named else recognise_digit(synth, loaded.wave).digit
        except VoiceInError as e:
            text = str(e)
            raise AdaptError(text if path.name in text else f"{path.name}: {text}") from None
        takes.append(Take(path, digit, named is None, loaded.wave, f0_median(loaded.wave, cfg)))
    return takes


def check_takes(takes: list[Take]) -> list[str]:
    """:class:`AdaptError` for too few takes or a digit without one; returns warnings (mixed speakers)."""
    if len(takes) < MIN_TAKES:
        raise AdaptError(
            f"too few takes: {len(takes)}; at least {MIN_TAKES}, one of each digit (two of each is better)"
        )
    have = {t.digit for t in takes}
    missing = [d for d in range(N_DIGITS) if d not in have]
    if missing:
        raise AdaptError(f"no take of digit {', '.join(map(str, missing))}: record every digit at least once")
    warnings = []
    f0 = np.array([t.f0_hz for t in takes if t.f0_hz], dtype=np.float64)
    if len(f0) >= 4:
        st = 12.0 * np.log2(f0 / np.median(f0))
        spread = float(np.percentile(st, 90) - np.percentile(st, 10))
        if spread > MIXED_SPREAD_ST:
            warnings.append(
                f"the takes' pitch varies by {spread:.0f} semitones: they may be more than one speaker, "
                "and the model will mix their voices"
            )
    return warnings


def takes_dataset(takes: list[Take], name: str, cfg) -> Dataset:  # noqa: ANN001
    """The takes as a training :class:`~training.data.Dataset` of one speaker (encoder features with
    the band edge filled like a take's, f0 and voicing tracks as in training)."""
    from vaesynth.voices.voice_in import take_features

    rows = [featurise(t.wave, cfg) for t in takes]
    feats = np.stack([take_features(t.wave, cfg) for t in takes]).astype(np.float32)
    return Dataset(
        features=feats,
        n_valid=np.array([r[1] for r in rows], dtype=np.int64),
        digit=np.array([t.digit for t in takes], dtype=np.int64),
        speaker=np.zeros(len(takes), dtype=np.int64),
        index=np.arange(len(takes), dtype=np.int64),
        f0=np.stack([r[2] for r in rows]).astype(np.float32),
        voicing=np.stack([r[3] for r in rows]).astype(np.float32),
        speakers=[name],
        names=[t.path.name for t in takes],
        fingerprint={},
    )


def base_recipe(base: Bundle) -> Recipe:
    """The recipe the base model was trained with (its loss settings), else the shipped one of its kind."""
    stored = base.meta.get("training", {}).get("recipe") if isinstance(base.meta.get("training"), dict) else None
    if isinstance(stored, dict):
        try:
            return Recipe.from_dict(stored)
        except (ConfigError, TypeError, ValueError):
            pass
    return recipe_for(base.kind)


def trainable_names(model: torch.nn.Module, method: str) -> list[str]:
    """The parameters ``method`` fine-tunes (:data:`METHODS`)."""
    prefixes = METHODS[method]
    return [n for n, _ in model.named_parameters() if any(n == p or n.startswith(p + ".") for p in prefixes)]


def adapt_weights(
    base: Bundle, ds: Dataset, settings: AdaptSettings, progress: Progress = _quiet, cancel=None  # noqa: ANN001
) -> tuple[torch.nn.Module, list[str], dict]:
    """Fine-tune a copy of ``base.model`` on ``ds``; returns (model, the names of the weights that
    changed, a report of the losses). ``cancel()`` is asked every step (:class:`AdaptCancelled`)."""
    from .experiment import VAEExperiment

    exp = VAEExperiment(base_recipe(base))
    exp.model.load_state_dict(base.model.state_dict())
    model = exp.model
    names = trainable_names(model, settings.method)
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    torch.manual_seed(settings.seed)
    x = torch.from_numpy(ds.features)
    batch = (x, torch.from_numpy(ds.digit), torch.from_numpy(ds.n_valid), torch.from_numpy(ds.f0),
             torch.from_numpy(ds.voicing))  # fmt: skip
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(x, batch[1])  # the frozen encoder: where the base puts each take
    report = {"trained": sum(dict(model.named_parameters())[n].numel() for n in names)}
    if not names or settings.steps == 0:
        return model.eval(), [], report
    params = [p for n, p in model.named_parameters() if n in names]
    start = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.steps)
    model.train()
    first = last = None
    for step in range(settings.steps):
        if cancel is not None and cancel():
            raise AdaptCancelled("cancelled: no model was made")
        losses = exp.losses(batch, posterior=(mu, logvar, None, None))
        pull = sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start, strict=True))
        loss = losses["loss"] + settings.prior * pull
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        rec = float(losses["rec"].detach())
        first = rec if first is None else first
        last = rec
        if step % 10 == 0 or step == settings.steps - 1:
            progress(0.2 + 0.7 * (step + 1) / settings.steps, f"learning: step {step + 1} of {settings.steps}")
    report.update({"rec_first": round(first, 3), "rec_last": round(last, 3), "pull": round(float(pull.detach()), 5)})
    return model.eval(), names, report


def personal_stats(base: Bundle, mu: np.ndarray, var: np.ndarray, digits: np.ndarray, spread: float) -> LatentStats:
    """The knob space of a personal model: each digit's mean is the person's takes of it (shrunk
    towards the base's mean moved by the person's average offset, so one take is not the whole
    truth), its spread the base's times ``spread``; the takes are the stored posteriors, so a fresh
    voice is one of the person's takes, varied by its posterior."""
    st = base.stats
    base_mean = st.digit_mean.double().numpy()
    offset = np.mean(mu - base_mean[digits], axis=0)
    mean = base_mean + offset
    for d in range(N_DIGITS):
        rows = mu[digits == d]
        if len(rows):
            w = len(rows) / (len(rows) + 1.0)
            mean[d] = w * rows.mean(0) + (1 - w) * mean[d]
    chol = st.digit_chol.double() * spread
    f32 = torch.float32
    return LatentStats(
        digit_mean=torch.from_numpy(mean).to(f32),
        digit_chol=chol.to(f32),
        speaker_mean=torch.from_numpy(mu.mean(0, keepdims=True)).to(f32),
        speaker_digit_mean=torch.from_numpy(mean[None]).to(f32),
        post_mu=torch.from_numpy(mu).to(f32),
        post_var=torch.from_numpy(np.clip(var, 1e-6, None)).to(f32),
        post_digit=torch.from_numpy(digits.astype(np.int64)),
    )


def make_personal(
    base: Bundle, ds: Dataset, name: str, settings: AdaptSettings, progress: Progress = _quiet, cancel=None  # noqa: ANN001
) -> tuple[Bundle, list[str], dict]:
    """The personal bundle (in memory) of ``base`` adapted to ``ds``; (bundle, changed weights, report)."""
    from .latent_stats import encode_posteriors
    from .texture import build_bank

    model, names, report = adapt_weights(base, ds, settings, progress, cancel)
    mu, var = encode_posteriors(model, ds)  # the encoder is the base's: the same latents as in training
    stats = personal_stats(
        base, mu.astype(np.float64), settings.post_var * var.astype(np.float64), ds.digit, settings.spread
    )
    meta = {
        "display_name": name,
        "params": base.meta.get("params", {}),
        "render": dict(base.meta.get("render", {})),
        "personal": {"takes": len(ds), "settings": asdict(settings), **report},
    }
    if not meta["render"]:
        meta.pop("render")
    bundle = Bundle(name, model, base.spectral, stats, [name], meta, knob_labels=base.knob_labels)
    if settings.texture and base.texture is not None:
        progress(0.92, "keeping the texture of your takes")
        opts = base_recipe(base).texture or {}
        bank_opts, _ = texture_options(opts) if opts else ({}, None)
        bank_opts = {k: v for k, v in bank_opts.items() if k in ("bits", "strip_static", "detrend")}
        bundle.texture = build_bank(model, ds, mu, var, per_cell=None, **bank_opts)
        bundle.texture_settings = base.texture_settings
    return bundle, names, report


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` clauses clean up."""


def adapt(
    takes_folder: str | Path,
    name: str,
    base: str | Path | None = "cvae",
    settings: AdaptSettings | None = None,
    progress: Progress = _quiet,
    cancel=None,  # noqa: ANN001
    replace: bool = False,
    out: str | Path | None = None,
) -> tuple[Path, list[str]]:
    """Learn the voice of the takes in ``takes_folder`` as personal model ``name`` (see the module doc).

    Returns (the bundle folder, warnings). ``out``: write the bundle there instead of
    ``user_models_dir() / name`` (experiments). ``replace``: replace a personal model of that name.
    Raises :class:`AdaptError` (one sentence) when the takes cannot make a model,
    :class:`AdaptCancelled` when ``cancel()`` says so; neither leaves a listed folder behind.
    """
    from vaesynth.engine.synth import Synth

    from .bundling import staging_folder, swap_in

    settings = settings or AdaptSettings()
    t0 = time.perf_counter()
    name = check_personal_name(name)
    dest = Path(out) if out is not None else user_models_dir() / name
    if (dest.exists() or dest.is_symlink()) and not replace:
        raise AdaptError(f"a personal model named {name!r} exists already (--replace to learn it again)")
    take_files(takes_folder)  # a wrong folder is one line before the model loads
    base_folder = resolve_model(base)
    if is_personal(base_folder):
        raise AdaptError(f"{base_folder.name} is a personal model: learn from a shipped model (e.g. cvae)")
    progress(0.0, f"loading {base_folder.name}")
    synth = Synth.from_path(base_folder)
    base_bundle = synth.bundle
    if base_bundle.kind != "cvae" or "base" in read_base_config(base_folder):
        raise AdaptError(f"a voice is learnt from the default model (cvae), not {base_bundle.kind!r}")
    takes = read_takes(takes_folder, synth, progress)
    warnings = check_takes(takes)
    progress(0.15, f"{len(takes)} takes checked")
    ds = takes_dataset(takes, name, base_bundle.spectral)
    bundle, names, report = make_personal(base_bundle, ds, name, settings, progress, cancel)
    progress(0.95, "writing the model")
    bundle.meta["personal"]["seconds"] = round(time.perf_counter() - t0, 1)
    base_ref = {"model": model_id(base_folder), "weights": weights_fingerprint(base_folder)}
    staged = staging_folder(dest)
    try:
        save_bundle(bundle, staged, base=base_ref, keys=names)
        load_bundle(staged)  # what the app will load: validated before it is listed
        folder = swap_in(staged, dest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    progress(1.0, f"done in {time.perf_counter() - t0:.0f} s")
    return folder, warnings


def read_base_config(folder: Path) -> dict:
    from vaesynth.model.bundle import read_config

    return read_config(folder)


def adapt_cli(args) -> None:  # noqa: ANN001
    """``vaesynth-train adapt TAKES --name NAME``: prints where the model went (``--progress``: a
    ``progress <fraction> <text>`` line as it goes, a ``warning <text>`` line for each warning and
    ``done <folder>`` at the end, for the app)."""

    def show(fraction: float, text: str) -> None:
        if args.progress:
            print(f"progress {fraction:.3f} {text}", flush=True)

    def terminated(_sig, _frame) -> None:  # noqa: ANN001
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        settings = AdaptSettings(
            **{k: v for k, v in (("method", args.method), ("steps", args.steps)) if v is not None}
        )
        folder, warnings = adapt(args.takes, args.name, args.model, settings, show, replace=args.replace)
    except (_Terminated, KeyboardInterrupt):
        raise AdaptCancelled("cancelled: no model was made") from None
    except BundleError as e:
        raise AdaptError(str(e)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
        if args.progress:  # (the app shows it with the result)
            print(f"warning {w}", flush=True)
    b = load_bundle(folder)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    print(
        f"learnt {b.display_name!r} from {b.meta['personal']['takes']} takes in "
        f"{b.meta['personal']['seconds']:.0f} s ({size:.1f} MB): {folder}; use it with --model {b.name!r}"
    )
    if args.progress:
        print(f"done {folder}", flush=True)
