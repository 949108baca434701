"""``vaesynth-train`` / ``python -m training``: fit, evaluate, export, download."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaesynth-train", description="Train and evaluate vaesynth's VAE models on FSDD.")
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fit", help="train a model and export its bundle")
    f.add_argument("--model", choices=["mlp", "cnn", "cvae", "all"], default="cvae")
    f.add_argument("--data", help="folder of FSDD recordings (else $VAESYNTH_FSDD, else the user cache)")
    f.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    f.add_argument("--out", help="bundle folder (default resources/models/<model>)")
    f.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    f.add_argument("--seed", type=int, default=0)
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

    x = sub.add_parser("export", help="re-fit a bundle's latent statistics from the data (weights unchanged)")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from vaesynth.bundle import BundleError

    from .data import DataError

    try:
        if args.cmd in ("fit", "evaluate") and args.data is None:
            offer_download()
        if args.cmd == "fit":
            from .fit import RECIPES, fit

            kinds = list(RECIPES) if args.model == "all" else [args.model]
            devices = int(args.devices) if args.devices.isdigit() else args.devices
            for kind in kinds:
                out = fit(
                    kind, data=args.data, epochs=args.epochs, out=args.out if len(kinds) == 1 else None,
                    resume=args.resume, seed=args.seed, accelerator=args.accelerator, devices=devices,
                    limit_per_digit_speaker=args.limit, progress=not args.no_progress,
                )  # fmt: skip
                print(f"wrote bundle {out}")
        elif args.cmd == "evaluate":
            from .evaluate import evaluate_cli

            evaluate_cli(args)
        elif args.cmd == "export":
            from vaesynth.bundle import list_bundles

            from .export import refresh_latent_stats

            shipped = list_bundles()
            for m in args.model:
                folder = shipped.get(m, m)
                print(f"latent statistics refreshed in {refresh_latent_stats(folder, args.data)}")
        elif args.cmd == "download":
            from .data import download

            print(f"FSDD verified in {download(args.dest)}")
    except (DataError, BundleError) as e:
        print(f"vaesynth-train: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        msg = str(e) or "interrupted; resume with --resume"
        print(f"vaesynth-train: {msg}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
