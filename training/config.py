"""The whole configuration of a training run, in one place.

A :class:`Recipe` says *what* is trained: the model kind and every constructor argument of its
architecture, the feature definition, the optimiser, the loss weights, the schedule and the seed.
Two runs with the same recipe on the same data train the same model. *Where* and *how* it runs
(data folder, output folder, accelerator, devices, nodes) are arguments of
:func:`training.fit.fit`, not part of the recipe.

Every bundle records the recipe it was trained with (``config.json`` → ``training.recipe``),
and every checkpoint carries it as its hyperparameters, so ``--resume`` can refuse a checkpoint
made with a different one.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field, fields, replace

from vaesynth.dsp.spectral import SpectralConfig

# MODEL_KINDS: the model kinds training knows, in the runtime's own order (one source: vaesynth.model.models)
from vaesynth.model.models import MODEL_KINDS, MODEL_TYPES
from vaesynth.model.texture import TextureSettings

#: Lightning accelerators and strategies the command line offers (where and how, not part of a recipe).
ACCELERATORS: tuple[str, ...] = ("cpu", "gpu", "cuda", "mps", "auto")
STRATEGIES: tuple[str, ...] = ("auto", "ddp")  # ddp_spawn: see docs/training.md


class TrainingError(Exception):
    """A training run cannot start or go on (one readable sentence, shown without a traceback)."""


class ConfigError(TrainingError, ValueError):
    """A run configuration is invalid."""


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one model's training run.

    Model:
        ``kind``: one of :data:`vaesynth.model.models.MODEL_KINDS`; ``params``: *every* constructor argument of that
        model class (``vaesynth.model.models.MODEL_TYPES[kind]``), written out so that no run depends
        on a model default; ``spectral``: the feature definition saved into the bundle.
    Schedule and optimiser:
        ``epochs``; ``batch_size`` (per process); ``lr``: AdamW peak learning rate of a one-cycle
        schedule whose warm-up is ``lr_warmup_pct`` of all steps; ``weight_decay``; ``seed``.
    Loss (see :class:`training.experiment.VAEExperiment`):
        ``beta``: weight of the KL term, warmed up linearly from 0 over ``warmup_epochs``
        (at most a third of the run, at least one epoch); ``free_bits``: nats per latent
        dimension below which KL is not penalised (0 = off); ``f0_weight``: weight of the f0
        loss of the harmonic head; ``teacher_f0``: feed the measured f0 to the harmonic comb in
        voiced frames while training; ``voicing_weight``: weight of the voicing gate's BCE (models
        with ``voicing``); ``tvl_beta``: weight of the KL of the time-varying latents against their
        learnt prior (models with ``tvl_dim > 0``), warmed up like ``beta``. ``rec_loss``: the
        reconstruction term, ``"l2"`` (summed squared error: a Gaussian likelihood, whose optimum is
        the conditional mean) or ``"l1"`` (summed absolute error: Laplace, the conditional median,
        which keeps an edge whose timing varies an edge where the mean smears it into a ramp);
        ``rec_weight`` scales it (the shipped model's absolute error on the test recordings sums to
        8.8x its squared error, so ``"l1"`` at 0.1 keeps about the KL and adversarial terms' balance).
        ``rec_bins``: how the reconstruction term weighs frequency bins, ``"flat"`` (every bin alike)
        or ``"mel"`` (by the mel scale's density, ``1 / (700 Hz + f)``, normalised to a mean of 1: the
        lowest bin counts about 3x, the highest about 0.45x, as a log-mel view of the spectrum weighs them).
    After the VAE (see :mod:`training.adversarial`):
        ``adv``: the adversarial decoder stage (:class:`training.adversarial.AdvConfig` fields;
        empty = none); ``render``: render settings stored in the bundle for
        :class:`vaesynth.engine.synth.Synth` (e.g. ``{"fade_out_s": 0.0}``); ``texture``: the texture bank
        built at export (default model only; :mod:`training.texture`: ``per_cell``, ``bits``,
        ``strip_static``, and the stage's :class:`vaesynth.model.texture.TextureSettings`; empty = none).
    """

    kind: str
    params: dict
    epochs: int
    lr: float = 2e-3
    lr_warmup_pct: float = 0.1
    weight_decay: float = 1e-4
    batch_size: int = 32
    beta: float = 1.0
    warmup_epochs: int = 10
    free_bits: float = 0.0
    f0_weight: float = 20.0
    teacher_f0: bool = True
    voicing_weight: float = 1.0
    tvl_beta: float = 0.1
    rec_loss: str = "l2"
    rec_weight: float = 1.0
    rec_bins: str = "flat"
    seed: int = 0
    adv: dict = field(default_factory=dict)
    render: dict = field(default_factory=dict)
    texture: dict = field(default_factory=dict)
    spectral: SpectralConfig = field(default_factory=SpectralConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` with one sentence if any setting is out of range."""
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"unknown model {self.kind!r}; choose from {', '.join(MODEL_KINDS)}")
        if not isinstance(self.params, dict):
            raise ConfigError(f"model params must be a dict, got {type(self.params).__name__}")
        if isinstance(self.spectral, dict):  # accept the serialised form
            object.__setattr__(self, "spectral", SpectralConfig.from_dict(self.spectral))
        positive_ints = {"epochs": self.epochs, "batch_size": self.batch_size}
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        if not 0 < self.lr_warmup_pct < 1:
            raise ConfigError(f"lr_warmup_pct must be between 0 and 1, got {self.lr_warmup_pct!r}")
        if self.texture:
            if self.kind != "cvae":
                raise ConfigError("a texture bank is a stage of the default model (cvae) only")
            texture_options(self.texture)
        if not isinstance(self.adv, dict) or not isinstance(self.render, dict):
            raise ConfigError("adv and render must be mappings")
        if self.rec_loss not in ("l2", "l1"):
            raise ConfigError(f"rec_loss must be 'l2' or 'l1', got {self.rec_loss!r}")
        if self.rec_bins not in ("flat", "mel"):
            raise ConfigError(f"rec_bins must be 'flat' or 'mel', got {self.rec_bins!r}")
        if not self.rec_weight > 0:
            raise ConfigError(f"rec_weight must be positive, got {self.rec_weight!r}")
        for name in ("weight_decay", "beta", "free_bits", "f0_weight", "warmup_epochs", "voicing_weight", "tvl_beta"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)!r}")

    @property
    def effective_warmup_epochs(self) -> int:
        """Epochs of KL warm-up actually used: ``warmup_epochs``, but at most a third of the run."""
        return min(self.warmup_epochs, max(1, self.epochs // 3))

    def with_overrides(self, **changes: object) -> Recipe:
        """A copy with ``changes`` applied (``None`` values are ignored) and validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown recipe settings: {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able values (what bundles and checkpoints store)."""
        d = asdict(self)
        d["spectral"] = self.spectral.to_dict()
        d["params"] = dict(self.params)
        d["adv"], d["render"] = dict(self.adv), dict(self.render)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown recipe settings: {', '.join(sorted(unknown))}")
        return cls(**d)


#: a recipe's ``texture`` entries that decide how the bank is built (the rest are the stage's settings)
BANK_OPTIONS = ("per_cell", "strip_static", "bits", "detrend", "seed")


def texture_options(options: dict) -> tuple[dict, TextureSettings]:
    """A recipe's ``texture`` entry -> (options of :func:`training.texture.build_bank`, the stage's
    settings); :class:`ConfigError` when an entry is unknown or out of range."""
    if not isinstance(options, dict):
        raise ConfigError("texture must be a mapping")
    bank = {k: v for k, v in options.items() if k in BANK_OPTIONS}
    per_cell, bits = bank.get("per_cell"), bank.get("bits", 8)
    if per_cell is not None and (isinstance(per_cell, bool) or not isinstance(per_cell, int) or per_cell < 1):
        raise ConfigError(f"texture per_cell must be a positive whole number, got {per_cell!r}")
    if bits not in (4, 8) or isinstance(bits, bool):
        raise ConfigError(f"texture bits must be 4 or 8, got {bits!r}")
    try:
        settings = TextureSettings.from_dict({k: v for k, v in options.items() if k not in BANK_OPTIONS})
    except (ValueError, TypeError) as e:
        raise ConfigError(f"texture: {e}") from None
    return bank, settings


def model_signature_params(kind: str) -> dict[str, object]:
    """The constructor arguments of model ``kind`` with their defaults (``inspect.Parameter.empty``
    when there is none), excluding the spectral config."""
    sig = inspect.signature(MODEL_TYPES[kind].__init__)
    return {n: p.default for n, p in list(sig.parameters.items())[2:]}  # skip self, cfg


#: The shipped models' recipes. Model params are complete (every constructor argument), so the
#: architecture never silently follows a changed default in ``vaesynth.model.models``.
RECIPES: dict[str, Recipe] = {  # in the order of MODEL_KINDS (the default first)
    # the natural-voice recipe (docs/results/natural_voice.md): voicing-gated comb, noise texture,
    # 32-dim code at beta 0.05, then 1000 adversarial decoder steps against multi-scale and whole-utterance
    # discriminators (training/adversarial.py); rendered without a fade-out and
    # with each digit's last half hop cut (see vaesynth.engine.synth.Synth)
    "cvae": Recipe(
        "cvae",
        {
            "latent_dim": 32, "channels": 96, "digit_dim": 32, "n_blocks": 2, "head": "harmonic", "n_ceps": 32,
            "voicing": True, "texture": 1.0, "hard_gate": True, "tvl_dim": 0, "tvl_temp": 1.0, "frame_noise": 0,
            "residual": False,
        },
        epochs=40,
        beta=0.05,
        adv={"steps": 1000, "adv_weight": 10.0, "discs": ["1d", "utt"]},
        render={"fade_out_s": 0.0, "trim_end_s": 0.004},
        texture={"per_cell": 24, "bits": 4, "typical": 200.0},
    ),  # fmt: skip
    "cnn": Recipe("cnn", {"latent_dim": 32, "channels": 16}, epochs=40),
    "mlp": Recipe("mlp", {"latent_dim": 16, "hidden": 64}, epochs=100),
}


def recipe_for(kind: str) -> Recipe:
    """The shipped recipe of model ``kind`` (:class:`ConfigError` if unknown)."""
    if kind not in RECIPES:
        raise ConfigError(f"unknown model {kind!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[kind]
