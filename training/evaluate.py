"""Evaluate bundles: what a listener would get, measured.

Every generated utterance goes the whole way a user's does: latent -> decoder -> magnitude ->
Griffin-Lim -> waveform, and is then analysed again from the waveform. Metrics per model:

- ``acc_prior``: own digit classifier's accuracy on N prior samples per digit, drawn as a keypad
  press draws them (``Synth.knobs.fresh(d)``: the exact aggregate posterior, a mixture of
  the training utterances' posteriors); ``acc_prior_gauss`` / ``diversity_gauss``: the same with
  the moment-matched per-digit Gaussian (knobs ~ N(0, I)); ``acc_prior_std_normal``: with the
  naive prior z ~ N(0, I);
- ``acc_recon``: accuracy on reconstructions of the held-out test recordings;
  ``recon_db``: their RMS error in dB over the utterance frames;
- ``diversity``: mean pairwise distance of samples within a digit / the same for real test
  recordings (utterance embedding: per-bin mean and std of dB over time);
- ``copy_ratio``: median distance from a sample to its nearest training recording / the same for
  real test recordings (well below 1 would mean near-copies); ``near_copies``: fraction of
  samples closer to a training recording than 95% of real test recordings are;
- ``periodicity``: mean periodicity of voiced (loud) frames relative to real test recordings
  (harmonic sharpness; 1.0 = as periodic as real speech);
- ``speaker_acc_latent``: how well a linear classifier reads the speaker from test latent means
  (chance 1/6); ``acc_real`` and ``acc_real_gl``: the classifier on real test recordings and on
  their Griffin-Lim resyntheses (the ceiling for generated audio).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vaesynth.digits import N_DIGITS
from vaesynth.dsp.phase import griffin_lim
from vaesynth.dsp.pitch import periodicity
from vaesynth.dsp.spectral import SpectralConfig, features_to_mag, normalize_peak, trim_silence, wave_to_features
from vaesynth.model.bundle import Bundle, BundleError, load_bundle, update_config
from vaesynth.model.catalog import list_bundles
from vaesynth.sound.safeio import atomic_write, open_regular

from .data import Dataset, LoadReport, cache_root, find_data, load_dataset, read_wav, runs_dir


class Classifier(nn.Module):
    """1-D CNN over time on the features: digit (10) or speaker (6) logits.

    Measured on the official FSDD split (train on index 5-49, test on 0-4): 100% digit and
    100% speaker accuracy on the real test recordings.
    """

    version = 2

    def __init__(self, n_bins: int, n_classes: int, ch: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(n_bins, ch, 5, padding=2), nn.BatchNorm1d(ch), nn.GELU(), nn.MaxPool1d(2),
            nn.Conv1d(ch, ch, 5, padding=2), nn.BatchNorm1d(ch), nn.GELU(), nn.MaxPool1d(2),
            nn.Conv1d(ch, ch, 3, padding=1), nn.BatchNorm1d(ch), nn.GELU(),
        )  # fmt: skip
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(2 * ch, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, F)
        h = self.net(x.transpose(1, 2))
        return self.head(self.drop(torch.cat([h.amax(-1), h.mean(-1)], dim=1)))


def train_classifier(ds: Dataset, target: str, epochs: int = 25, seed: int = 0) -> Classifier:
    """Train (or load from the cache) a classifier of ``target`` ('digit'/'speaker') on ``ds``."""
    shape = f"{ds.features.shape[1]}x{ds.features.shape[2]}"
    cfg_key = f"v{Classifier.version}-{ds.fingerprint['sha256'][:12]}-{len(ds)}-{target}-{shape}-{epochs}-{seed}"
    path = cache_root() / "classifiers" / f"{cfg_key}.pt"
    labels = getattr(ds, target)
    n_classes = int(labels.max()) + 1 if target == "speaker" else N_DIGITS
    model = Classifier(ds.features.shape[2], n_classes)
    if path.is_file():
        try:
            with os.fdopen(open_regular(path), "rb") as f:
                model.load_state_dict(torch.load(f, weights_only=True))
            return model.eval()
        except (RuntimeError, OSError):
            pass
    torch.manual_seed(seed)
    torch.set_flush_denormal(True)
    x = torch.from_numpy(ds.features.astype(np.float32))
    y = torch.from_numpy(labels)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * ((len(x) + 63) // 64))
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(64):
            xb = x[idx]
            # robustness: random level shift and time shift, so resynthesised audio is judged fairly
            xb = (xb + 0.05 * torch.randn(len(idx), 1, 1, generator=g)).clamp(0, 1)
            xb = torch.roll(xb, int(torch.randint(-4, 5, (1,), generator=g)), dims=1)
            loss = nn.functional.cross_entropy(model(xb), y[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    atomic_write(path, lambda tmp: torch.save(state, tmp))  # the cache: never through a link to a device
    return model.eval()


@torch.inference_mode()
def predict(clf: Classifier, feats: np.ndarray) -> np.ndarray:
    return clf(torch.from_numpy(np.asarray(feats, dtype=np.float32))).argmax(-1).numpy()


def embed(feats: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    """Utterance embedding ``(N, 2F)``: per-bin mean and std of the features over the utterance."""
    out = []
    for f, n in zip(feats, n_valid, strict=True):
        f = f[: max(int(n), 2)]
        out.append(np.concatenate([f.mean(0), f.std(0)]))
    return np.stack(out)


def render_knobs(synth, knobs: np.ndarray, digits: np.ndarray) -> list[np.ndarray]:
    """Render knob vectors ``(N, D)`` for ``digits (N,)`` exactly as the app and CLI do
    (:meth:`vaesynth.engine.synth.Synth.render_digit`: valid-head length, the default phase
    reconstruction, fades and levelling)."""
    return [synth.render_digit(int(d), u).wave for u, d in zip(knobs, digits, strict=True)]


def analyse(waves: list[np.ndarray], cfg: SpectralConfig) -> tuple[np.ndarray, np.ndarray]:
    feats, lens = zip(*(wave_to_features(w, cfg) for w in waves), strict=True)
    return np.stack(feats), np.array(lens)


def mean_periodicity(waves: list[np.ndarray], cfg: SpectralConfig) -> float:
    vals = [periodicity(trim_silence(normalize_peak(w, cfg), cfg), cfg, voiced_db=20.0)[0] for w in waves]
    return float(np.mean(np.concatenate([v for v in vals if len(v)])))


def within_digit_spread(emb: np.ndarray, digits: np.ndarray) -> float:
    vals = []
    for d in range(N_DIGITS):
        e = emb[digits == d]
        if len(e) > 1:
            dist = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
            vals.append(dist[np.triu_indices(len(e), 1)].mean())
    return float(np.mean(vals))


def nearest_distances(emb: np.ndarray, ref: np.ndarray) -> np.ndarray:
    d = ((emb[:, None] - ref[None]) ** 2).sum(-1)
    return np.sqrt(d.min(1))


class Reference:
    """Everything about the real data that model evaluations compare against (computed once)."""

    def __init__(self, folder: Path, cfg: SpectralConfig, seed: int = 0) -> None:
        t0 = time.perf_counter()
        ds = load_dataset(folder, cfg)
        self.cfg = cfg
        self.train, self.test = ds.split()
        self.digit_clf = train_classifier(self.train, "digit", seed=seed)
        self.speaker_clf = train_classifier(self.train, "speaker", seed=seed)
        self.train_emb = embed(self.train.features, self.train.n_valid)
        self.test_emb = embed(self.test.features, self.test.n_valid)
        self.test_nn = nearest_distances(self.test_emb, self.train_emb)
        # real test waves, for periodicity and the Griffin-Lim ceiling
        report = LoadReport()
        waves = [read_wav(folder / n, cfg, report) for n in self.test.names]
        self.test_waves = [trim_silence(normalize_peak(w, cfg), cfg) for w in waves]
        self.periodicity_real = mean_periodicity(self.test_waves, cfg)
        gl = [
            griffin_lim(features_to_mag(f[:n], cfg), cfg)
            for f, n in zip(self.test.features, self.test.n_valid, strict=True)
        ]
        self.periodicity_real_gl = mean_periodicity(gl, cfg)
        gl_feats, _ = analyse(gl, cfg)
        self.acc_real = float((predict(self.digit_clf, self.test.features) == self.test.digit).mean())
        self.acc_real_gl = float((predict(self.digit_clf, gl_feats) == self.test.digit).mean())
        self.speaker_acc_real = float((predict(self.speaker_clf, self.test.features) == self.test.speaker).mean())
        self.real_spread = within_digit_spread(self.test_emb, self.test.digit)
        self.seconds = time.perf_counter() - t0


@torch.inference_mode()
def evaluate_bundle(bundle: Bundle, ref: Reference, per_digit: int = 50, seed: int = 0) -> dict:
    cfg = bundle.spectral
    model = bundle.model.eval()
    rng = np.random.default_rng(seed)
    digits = np.repeat(np.arange(N_DIGITS), per_digit)
    # what a keypad press does: KnobSpace.fresh for that digit (the aggregate posterior)
    from vaesynth.engine.synth import Synth

    synth = Synth(bundle, torch_threads=None)
    u_press = np.stack([synth.knobs.fresh(int(d), 1.0, rng) for d in digits])
    waves = render_knobs(synth, u_press, digits)
    feats, lens = analyse(waves, cfg)
    pred = predict(ref.digit_clf, feats)
    emb = embed(feats, lens)
    nn_d = nearest_distances(emb, ref.train_emb)
    res = {
        "acc_prior": float((pred == digits).mean()),
        "diversity": within_digit_spread(emb, digits) / ref.real_spread,
        "copy_ratio": float(np.median(nn_d) / np.median(ref.test_nn)),
        "near_copies": float((nn_d < np.percentile(ref.test_nn, 5)).mean()),
        "periodicity": mean_periodicity(waves, cfg) / ref.periodicity_real,
        "mean_seconds": float(np.mean([len(w) for w in waves]) / cfg.sample_rate),
    }
    # for comparison: the moment-matched per-digit Gaussian (knobs ~ N(0, I)) ...
    u = rng.standard_normal((len(digits), bundle.latent_dim)).astype(np.float32)
    feats_g, lens_g = analyse(render_knobs(synth, u, digits), cfg)
    res["acc_prior_gauss"] = float((predict(ref.digit_clf, feats_g) == digits).mean())
    res["diversity_gauss"] = within_digit_spread(embed(feats_g, lens_g), digits) / ref.real_spread
    # ... and the naive prior z ~ N(0, I)
    waves0 = render_knobs(synth, synth.knobs.to_knobs(digits, u), digits)
    res["acc_prior_std_normal"] = float((predict(ref.digit_clf, analyse(waves0, cfg)[0]) == digits).mean())
    # reconstructions of held-out recordings
    x = torch.from_numpy(ref.test.features.astype(np.float32))
    d = torch.from_numpy(ref.test.digit)
    mu, _ = model.encode(x, d)
    out = model.decode(mu, d)
    t = np.arange(x.shape[1])[None, :]
    valid = t < ref.test.n_valid[:, None]
    err = ((out.features.numpy() - ref.test.features) ** 2).mean(-1)
    res["recon_db"] = float(np.sqrt((err * valid).sum() / valid.sum()) * (cfg.db_max - cfg.db_min))
    rwaves = render_knobs(synth, synth.knobs.to_knobs(ref.test.digit, mu.numpy()), ref.test.digit)
    res["acc_recon"] = float((predict(ref.digit_clf, analyse(rwaves, cfg)[0]) == ref.test.digit).mean())
    # speaker identity held by the latent: linear probe, train means -> test means
    from sklearn.linear_model import LogisticRegression

    mu_train, _ = model.encode(
        torch.from_numpy(ref.train.features.astype(np.float32)), torch.from_numpy(ref.train.digit)
    )
    probe = LogisticRegression(max_iter=2000).fit(mu_train.numpy(), ref.train.speaker)
    res["speaker_acc_latent"] = float(probe.score(mu.numpy(), ref.test.speaker))
    res["_samples"] = {"feats": feats, "lens": lens, "digits": digits, "mu_test": mu.numpy()}
    return res


COLUMNS = [
    ("acc_prior", "prior-sample digit acc.", "{:.1%}"),
    ("acc_prior_gauss", "acc. per-digit Gaussian", "{:.1%}"),
    ("acc_prior_std_normal", "acc. with z~N(0,I)", "{:.1%}"),
    ("acc_recon", "test recon. acc.", "{:.1%}"),
    ("recon_db", "test recon. error (dB RMS)", "{:.2f}"),
    ("diversity", "diversity vs real", "{:.2f}"),
    ("diversity_gauss", "diversity, Gaussian", "{:.2f}"),
    ("copy_ratio", "NN-distance vs real", "{:.2f}"),
    ("near_copies", "near-copies", "{:.1%}"),
    ("periodicity", "periodicity vs real", "{:.2f}"),
    ("speaker_acc_latent", "speaker from latent", "{:.1%}"),
]


def results_table(results: dict[str, dict]) -> str:
    head = "| model | " + " | ".join(c[1] for c in COLUMNS) + " |"
    sep = "|---|" + "---|" * len(COLUMNS)
    rows = [head, sep]
    for name, r in results.items():
        rows.append(f"| {name} | " + " | ".join(fmt.format(r[k]) for k, _, fmt in COLUMNS) + " |")
    return "\n".join(rows)


def run_folder(bundle: Bundle) -> Path:
    """This machine's run folder (checkpoints, CSV logs) of the run that trained ``bundle``.

    Bundles record the run's name (``training.run``, a folder under :func:`training.data.runs_dir`);
    older bundles recorded the builder's absolute ``training.log_dir``, used when it exists here.
    """
    info = bundle.meta.get("training", {})
    old = info.get("log_dir")
    if isinstance(old, str) and Path(old).is_dir():
        return Path(old)
    name = info.get("run")
    return runs_dir() / (Path(name).name if isinstance(name, str) and name else bundle.kind)


def plot_all(results: dict[str, dict], bundles: dict[str, Bundle], ref: Reference, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    cfg = ref.cfg
    # spectrogram grid: one prior sample per digit per model, plus a real test recording
    rows = ["real"] + list(results)
    fig, axes = plt.subplots(len(rows), N_DIGITS, figsize=(18, 2.0 * len(rows)), squeeze=False)
    for r, name in enumerate(rows):
        for d in range(N_DIGITS):
            ax = axes[r, d]
            if name == "real":
                i = int(np.nonzero(ref.test.digit == d)[0][0])
                f, n = ref.test.features[i], ref.test.n_valid[i]
            else:
                s = results[name]["_samples"]
                i = int(np.nonzero(s["digits"] == d)[0][0])
                f, n = s["feats"][i], s["lens"][i]
            ax.imshow(f[:n].T, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1,
                      extent=[0, n * cfg.frame_seconds, 0, cfg.sample_rate / 2000])  # fmt: skip
            ax.set_xticks([])
            if d == 0:
                ax.set_ylabel(f"{name}\nkHz")
            else:
                ax.set_yticks([])
            if r == 0:
                ax.set_title(str(d))
    fig.suptitle("Prior samples per digit (re-analysed from the Griffin-Lim waveform) vs a real test recording")
    fig.tight_layout()
    fig.savefig(out / "spectrograms.png", dpi=80)
    plt.close(fig)
    files.append("spectrograms.png")
    # latent maps (PCA of test latent means), by speaker and by digit
    fig, axes = plt.subplots(2, len(results), figsize=(4.5 * len(results), 8), squeeze=False)
    for c, (name, r) in enumerate(results.items()):
        mu = r["_samples"]["mu_test"]
        mu = mu - mu.mean(0)
        _, _, vt = np.linalg.svd(mu, full_matrices=False)
        p = mu @ vt[:2].T
        for row, (labels, title) in enumerate([(ref.test.speaker, "speaker"), (ref.test.digit, "digit")]):
            ax = axes[row, c]
            sc = ax.scatter(p[:, 0], p[:, 1], c=labels, cmap="tab10", s=10)
            ax.set_title(f"{name}: latent PCA by {title}")
            if row == 0 and c == len(results) - 1:
                ax.legend(*sc.legend_elements(), title="speaker", fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out / "latent_map.png", dpi=80)
    plt.close(fig)
    files.append("latent_map.png")
    # loss curves from the Lightning CSV logs
    fig, ax = plt.subplots(1, 1, figsize=(8, 4))
    for name, b in bundles.items():
        log_dir = run_folder(b) / "logs"
        csvs = sorted(log_dir.glob("version_*/metrics.csv"))
        if not csvs:
            continue
        import csv

        with open(csvs[-1]) as fh:
            rows_ = [row for row in csv.DictReader(fh) if row.get("val/rec")]
        if rows_:
            ax.plot([int(x["epoch"]) for x in rows_], [float(x["val/rec"]) for x in rows_], label=f"{name} val rec.")
    ax.set_xlabel("epoch")
    ax.set_ylabel("summed squared error per utterance")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Validation reconstruction loss")
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=80)
    plt.close(fig)
    files.append("loss_curves.png")
    return files


def evaluate_cli(args) -> None:
    folder = find_data(args.data)
    shipped = list_bundles()
    paths = {}
    for m in args.models or list(shipped):
        p = Path(m)
        if not p.is_dir() and m not in shipped:
            known = ", ".join(shipped) or "none"
            raise BundleError(f"model {m!r} not found (shipped: {known}; or give a bundle folder)")
        paths[p.name if p.is_dir() else m] = p if p.is_dir() else shipped[m]
    if not paths:
        raise BundleError("no model bundles to evaluate")
    bundles = {name: load_bundle(p) for name, p in paths.items()}
    cfg = next(iter(bundles.values())).spectral
    ref = Reference(folder, cfg, seed=args.seed)
    print(
        f"reference ready in {ref.seconds:.0f}s: classifier acc on real test {ref.acc_real:.1%}, "
        f"on Griffin-Lim resynthesis {ref.acc_real_gl:.1%}; speaker classifier {ref.speaker_acc_real:.1%}"
    )
    results = {}
    for name, b in bundles.items():
        t0 = time.perf_counter()
        results[name] = evaluate_bundle(b, ref, per_digit=args.per_digit, seed=args.seed)
        shown = {k: round(v, 4) for k, v in results[name].items() if not k.startswith("_")}
        print(f"{name} ({time.perf_counter() - t0:.0f}s): {shown}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clean = {n: {k: v for k, v in r.items() if not k.startswith("_")} for n, r in results.items()}
    reference = {
        "acc_real": ref.acc_real, "acc_real_gl": ref.acc_real_gl, "speaker_acc_real": ref.speaker_acc_real,
        "periodicity_real": ref.periodicity_real,
        "periodicity_real_gl_ratio": ref.periodicity_real_gl / ref.periodicity_real,
        "per_digit": args.per_digit, "seed": args.seed,
    }  # fmt: skip
    summary = json.dumps({"models": clean, "reference": reference}, indent=2) + "\n"
    atomic_write(out / "results.json", summary.encode())
    table = results_table(results)
    md = [
        "# Evaluation results", "", table, "",
        f"Reference: the digit classifier scores {ref.acc_real:.1%} on real test recordings and "
        f"{ref.acc_real_gl:.1%} on their Griffin-Lim resyntheses; Griffin-Lim on the true magnitude keeps "
        f"{reference['periodicity_real_gl_ratio']:.2f} of real periodicity. "
        f"{args.per_digit} prior samples per digit, seed {args.seed}.",
    ]  # fmt: skip
    if not args.no_plots:
        for f in plot_all(results, bundles, ref, out):
            md += ["", f"![{f}]({f})"]
    atomic_write(out / "results.md", ("\n".join(md) + "\n").encode())
    print(table)
    # headline metrics into each bundle, so `vaesynth models` can show them
    for name, b in bundles.items():
        if b.path is None:
            continue
        update_config(b.path, metrics={k: round(v, 4) for k, v in clean[name].items()})
