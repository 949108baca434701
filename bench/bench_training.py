"""Training-time benchmark: fit each model's recipe on FSDD and report wall-clock time.

    python bench/bench_training.py --data PATH [--models cvae cnn mlp] [--markdown]

Bundles go to a temporary folder (the shipped ones are not touched). Each fit is a full recipe
run (same epochs as the shipped bundles), timed with time.perf_counter around the whole
`training.fit.fit` call, so feature loading (from the cache), training, latent statistics and
export are all included. The machine's load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="FSDD recordings folder (else $VAESYNTH_FSDD or the user cache)")
    p.add_argument("--models", nargs="*", default=["cvae", "cnn", "mlp"])
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()

    from training.fit import RECIPES, fit

    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models:
            t0 = time.perf_counter()
            fit(
                kind,
                data=args.data,
                out=os.path.join(tmp, kind),
                run_dir=os.path.join(tmp, "runs", kind),
                progress=False,
            )
            rows.append((kind, RECIPES[kind].epochs, time.perf_counter() - t0))
    load_after = os.getloadavg()[0]
    total = sum(r[2] for r in rows)
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
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


if __name__ == "__main__":
    main()
