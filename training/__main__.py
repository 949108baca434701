"""``vaesynth-train`` / ``python -m training``: fit, evaluate, refit-stats, annotate, texture, download.

Bad input (arguments, data, bundles, checkpoints, devices) ends with one readable line on
stderr and exit status 2; Ctrl+C with a hint how to resume and status 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from .config import ACCELERATORS, MODEL_KINDS, STRATEGIES

PROG = "vaesynth-train"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def seed_arg(text: str) -> int:
    """A seed Lightning and NumPy both take: a whole number in 0 .. 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text[:40]!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and {2**32 - 1}, got {text[:40]}")
    return value


def devices_arg(text: str) -> int | str | list[int]:
    """``--devices``: a positive number of processes/GPUs, ``auto``, or GPU indices ``0,2``."""
    text = text.strip()
    if text == "auto":
        return text
    if "," in text:
        try:
            ids = [int(t) for t in text.split(",") if t.strip()]
        except ValueError:
            ids = []
        if not ids or min(ids) < 0 or len(set(ids)) != len(ids):
            raise argparse.ArgumentTypeError(f"GPU indices must be distinct non-negative integers, got {text!r}")
        return ids
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, a list of GPU indices like 0,1, or 'auto'; got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="Train and evaluate vaesynth's VAE models on FSDD.")
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fit", help="train a model and write its bundle")
    f.add_argument("--model", choices=[*MODEL_KINDS, "all"], default="cvae")
    f.add_argument("--data", help="folder of FSDD recordings (else $VAESYNTH_FSDD, else the user cache)")
    f.add_argument("--epochs", type=positive_int, help="override the recipe's epoch count")
    f.add_argument("--out", help="bundle folder (default resources/models/<model>; only with one --model)")
    f.add_argument("--runs-dir", help="folder for checkpoints and logs, one subfolder per model "
                   "(default <user cache>/vaesynth/runs; on several nodes: a shared folder)")  # fmt: skip
    f.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    f.add_argument("--seed", type=seed_arg, help="override the recipe's seed (0)")
    f.add_argument("--accelerator", default="cpu", choices=ACCELERATORS, help="Lightning accelerator")
    f.add_argument("--devices", type=devices_arg, default=1,
                   help="processes per node: CPU processes or GPUs (DDP when > 1), 'auto', or GPU ids 0,1")  # fmt: skip
    f.add_argument("--num-nodes", type=positive_int, default=1, help="machines in a multi-node run (docs/training.md)")
    f.add_argument("--strategy", default="auto", choices=STRATEGIES, help="Lightning strategy (auto = ddp when > 1)")
    f.add_argument("--limit", type=positive_int, help="use only takes with index < LIMIT (quick runs)")
    f.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("evaluate", help="measure shipped (or given) bundles and write the results table")
    e.add_argument("--data", help="folder of FSDD recordings")
    e.add_argument("--models", nargs="*", help="bundle folders or names (default: all shipped)")
    e.add_argument("--per-digit", type=positive_int, default=50, help="prior samples per digit")
    e.add_argument("--out", default="docs/results", help="folder for results.md, results.json and plots")
    e.add_argument("--no-plots", action="store_true")
    e.add_argument("--seed", type=seed_arg, default=0)

    x = sub.add_parser(
        "refit-stats", aliases=["export"],
        help="re-fit a bundle's latent statistics from the data (weights unchanged); 'export' is the old name",
    )  # fmt: skip
    x.add_argument("--model", nargs="+", required=True, help="bundle names or folders")
    x.add_argument("--data", help="folder of FSDD recordings")

    a = sub.add_parser("annotate", help="store the voice map and measured knob labels in bundles (weights unchanged)")
    a.add_argument("--model", nargs="+", required=True, help="bundle names or folders")
    a.add_argument("--data", help="folder of FSDD recordings")

    t = sub.add_parser("texture", help="(re)build the default model's texture bank from the data (weights unchanged)")
    t.add_argument("--model", nargs="+", default=["cvae"], help="bundle names or folders (default: cvae)")
    t.add_argument("--data", help="folder of FSDD recordings")

    ad = sub.add_parser(
        "adapt", help="learn a person's voice from a folder of takes: a personal model (docs/learn_voice.md)"
    )
    ad.add_argument("takes", help="folder of WAV takes, one digit each, named {digit}_*.wav (else recognised)")
    ad.add_argument("--name", required=True, help="the personal model's name (then --model NAME everywhere)")
    ad.add_argument("--model", default="cvae", help="the model to adapt (default: cvae)")
    ad.add_argument("--method", choices=["knobs", "film", "head", "decoder"], help="what adapts (default: decoder)")
    ad.add_argument("--steps", type=int, help="fine-tuning steps (default 300)")
    ad.add_argument("--replace", action="store_true", help="replace a personal model of that name")
    ad.add_argument("--progress", action="store_true", help="print 'progress <fraction> <text>' lines (for the app)")

    d = sub.add_parser("download", help="fetch FSDD (pinned release, verified) into the user cache")
    d.add_argument("--dest", help="target folder (default: user cache)")
    return p


def offer_download() -> None:
    """With no data anywhere and a person at the terminal, offer to fetch FSDD into the cache."""
    from .data import DataError, download, find_data

    try:
        find_data()
    except DataError:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise
        answer = input("FSDD recordings not found. Download the pinned FSDD release now (checksum verified)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise
        print(f"FSDD verified in {download()}")


def run_fit(args: argparse.Namespace) -> None:
    from .data import preflight

    preflight(args.data, args.limit)  # bad data is one line in a second, before torch and Lightning load
    from .config import ConfigError, recipe_for
    from .fit import fit

    kinds = list(MODEL_KINDS) if args.model == "all" else [args.model]
    if args.runs_dir is not None and Path(args.runs_dir).exists() and not Path(args.runs_dir).is_dir():
        raise ConfigError(f"--runs-dir {args.runs_dir} is a file, not a folder")
    if args.out is not None and len(kinds) > 1:
        raise ConfigError("--out names one bundle folder; with --model all the bundles go to resources/models/<model>")
    for kind in kinds:
        out = fit(
            recipe_for(kind), data=args.data, epochs=args.epochs, out=args.out, resume=args.resume, seed=args.seed,
            accelerator=args.accelerator, devices=args.devices, num_nodes=args.num_nodes, strategy=args.strategy,
            limit_per_digit_speaker=args.limit, run_dir=Path(args.runs_dir) / kind if args.runs_dir else None,
            progress=not args.no_progress,
        )  # fmt: skip
        if out is not None:  # only the process of global rank 0 writes the bundle
            print(f"wrote bundle {out}")


def main(argv: list[str] | None = None) -> int:
    import warnings

    # Lightning's notices that say nothing to a user of this command (tiny data, a deprecation inside it)
    for text in (r".*LeafSpec", r"The number of training batches", r".*does not have many workers"):
        warnings.filterwarnings("ignore", message=text)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or one-line usage error (2)
        return e.code if isinstance(e.code, int) else 2
    from vaesynth.model.bundle import BundleError

    from .config import ConfigError, TrainingError
    from .data import DataError

    try:
        if args.cmd in ("fit", "evaluate") and args.data is None:
            offer_download()
        if args.cmd == "fit":
            run_fit(args)
        elif args.cmd == "evaluate":
            from .evaluate import evaluate_cli

            if Path(args.out).exists() and not Path(args.out).is_dir():
                raise ConfigError(f"--out {args.out} is a file, not a folder")
            evaluate_cli(args)
        elif args.cmd in ("refit-stats", "export"):
            from vaesynth.model.catalog import resolve_model

            from .bundling import refresh_latent_stats

            for m in args.model:
                print(f"latent statistics refreshed in {refresh_latent_stats(resolve_model(m), args.data)}")
        elif args.cmd == "annotate":
            from .annotate import annotate_cli

            annotate_cli(args.model, args.data)
        elif args.cmd == "texture":
            from .config import recipe_for
            from .texture import texture_cli

            texture_cli(args.model, args.data, recipe_for("cvae").texture)
        elif args.cmd == "adapt":
            from .adapt import adapt_cli

            adapt_cli(args)
        elif args.cmd == "download":
            from .data import download

            print(f"FSDD verified in {download(args.dest)}")
    except (DataError, BundleError, TrainingError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 130 if type(e).__name__ == "AdaptCancelled" else 2
    except KeyboardInterrupt as e:
        msg = str(e) or "interrupted; resume with --resume"
        print(f"{PROG}: {msg}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
