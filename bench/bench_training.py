"""Training-time benchmark: fit each model's recipe on FSDD and report wall-clock time.

    python bench/bench_training.py [--data PATH] [--models cvae cnn mlp] [--markdown]
    python bench/bench_training.py --models mlp --epochs 1 --devices 2     # a two-process CPU DDP run

The recordings are found the way ``vaesynth-train`` finds them (``training.data.find_data``):
``--data``, else ``$VAESYNTH_FSDD``, else the user cache (``vaesynth-train download``).
Bundles and runs go to a temporary folder (the shipped ones are not touched). Each fit is a full
recipe run (same epochs as the shipped bundles unless ``--epochs``), timed with
time.perf_counter around the whole ``training.fit.fit`` call, so feature loading (from the
cache), training, latent statistics and bundle writing are all included. The machine's load
average is recorded before and after. With ``--devices N`` > 1 Lightning re-runs this script for
the other processes; only rank 0 prints the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="FSDD recordings folder (else $VAESYNTH_FSDD or the user cache)")
    p.add_argument("--models", nargs="*", default=["cvae", "cnn", "mlp"])
    p.add_argument("--epochs", type=int, help="override the recipes' epochs (quick checks)")
    p.add_argument("--limit", type=int, help="use only takes with index < LIMIT")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--devices", type=int, default=1, help="processes (CPU) or GPUs; DDP when > 1")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()

    from training.config import RECIPES, TrainingError
    from training.data import DataError, find_data
    from training.fit import fit

    try:
        data = find_data(args.data)
    except DataError as e:
        print(f"bench_training: {e}", file=sys.stderr)
        return 2
    rows = []
    load_before = os.getloadavg()[0]
    # one folder for every process of a DDP run (Lightning re-runs this script for ranks > 0)
    owned = "VAESYNTH_BENCH_TMP" not in os.environ
    tmp = os.environ.setdefault("VAESYNTH_BENCH_TMP", tempfile.mkdtemp(prefix="bench_training-"))
    rank0 = True
    for kind in args.models:
        t0 = time.perf_counter()
        try:
            out = fit(
                kind, data=data, epochs=args.epochs, limit_per_digit_speaker=args.limit,
                out=os.path.join(tmp, kind), run_dir=os.path.join(tmp, "runs", kind), progress=False,
                accelerator=args.accelerator, devices=args.devices,
            )  # fmt: skip
        except (DataError, TrainingError) as e:
            print(f"bench_training: {e}", file=sys.stderr)
            return 2
        rank0 = out is not None
        rows.append((kind, args.epochs or RECIPES[kind].epochs, time.perf_counter() - t0))
    if not rank0:
        return 0
    if owned:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()[0]
    total = sum(r[2] for r in rows)
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before, {load_after:.1f} after; data {data}; "
        f"{args.devices} process(es) on {args.accelerator}"
    )
    if args.markdown:
        print("\n| model | epochs | wall time |\n|---|---:|---:|")
        for kind, epochs, sec in rows:
            print(f"| {kind} | {epochs} | {sec / 60:.1f} min |")
        print(f"| all | | {total / 60:.1f} min |")
    else:
        for kind, epochs, sec in rows:
            print(f"{kind:5s} {epochs:4d} epochs {sec:7.1f} s")
        print(f"all              {total:7.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
