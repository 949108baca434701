"""``vaesynth-train`` / ``python -m training``: fit, evaluate, refit-stats, download."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import MODEL_KINDS

PROG = "vaesynth-train"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Train and evaluate vaesynth's VAE models on FSDD.")
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fit", help="train a model and write its bundle")
    f.add_argument("--model", choices=[*MODEL_KINDS, "all"], default="cvae")
    f.add_argument("--data", help="folder of FSDD recordings (else $VAESYNTH_FSDD, else the user cache)")
    f.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    f.add_argument("--out", help="bundle folder (default resources/models/<model>; only with one --model)")
    f.add_argument("--runs-dir", help="folder for checkpoints and logs, one subfolder per model "
                   "(default <user cache>/vaesynth/runs; on several nodes: a shared folder)")  # fmt: skip
    f.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    f.add_argument("--seed", type=int, help="override the recipe's seed (0)")
    f.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    f.add_argument("--devices", default="1", help="number of devices (DDP when > 1)")
    f.add_argument("--limit", type=int, help="use only takes with index < LIMIT (quick runs)")
    f.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("evaluate", help="measure shipped (or given) bundles and write the results table")
    e.add_argument("--data", help="folder of FSDD recordings")
    e.add_argument("--models", nargs="*", help="bundle folders or names (default: all shipped)")
    e.add_argument("--per-digit", type=int, default=50, help="prior samples per digit")
    e.add_argument("--out", default="docs/results", help="folder for results.md, results.json and plots")
    e.add_argument("--no-plots", action="store_true")
    e.add_argument("--seed", type=int, default=0)

    x = sub.add_parser(
        "refit-stats", aliases=["export"],
        help="re-fit a bundle's latent statistics from the data (weights unchanged); 'export' is the old name",
    )  # fmt: skip
    x.add_argument("--model", nargs="+", required=True, help="bundle names or folders")
    x.add_argument("--data", help="folder of FSDD recordings")

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
    from .config import recipe_for
    from .fit import fit

    kinds = list(MODEL_KINDS) if args.model == "all" else [args.model]
    devices = int(args.devices) if args.devices.isdigit() else args.devices
    for kind in kinds:
        out = fit(
            recipe_for(kind), data=args.data, epochs=args.epochs, out=args.out if len(kinds) == 1 else None,
            resume=args.resume, seed=args.seed,
            accelerator=args.accelerator, devices=devices,
            limit_per_digit_speaker=args.limit, run_dir=Path(args.runs_dir) / kind if args.runs_dir else None,
            progress=not args.no_progress,
        )  # fmt: skip
        if out is not None:  # only the process of global rank 0 writes the bundle
            print(f"wrote bundle {out}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from vaesynth.bundle import BundleError

    from .config import TrainingError
    from .data import DataError

    try:
        if args.cmd in ("fit", "evaluate") and args.data is None:
            offer_download()
        if args.cmd == "fit":
            run_fit(args)
        elif args.cmd == "evaluate":
            from .evaluate import evaluate_cli

            evaluate_cli(args)
        elif args.cmd in ("refit-stats", "export"):
            from vaesynth.bundle import list_bundles

            from .bundling import refresh_latent_stats

            shipped = list_bundles()
            for m in args.model:
                folder = shipped.get(m, m)
                print(f"latent statistics refreshed in {refresh_latent_stats(folder, args.data)}")
        elif args.cmd == "download":
            from .data import download

            print(f"FSDD verified in {download(args.dest)}")
    except (DataError, BundleError, TrainingError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        msg = str(e) or "interrupted; resume with --resume"
        print(f"{PROG}: {msg}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
