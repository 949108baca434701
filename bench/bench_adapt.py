"""Learn my voice, timed: ``vaesynth-train adapt`` end to end from a folder of 20 takes, as a person runs it.

Each run is the real command in a fresh process (``python -m training adapt TAKES --name NAME``):
interpreter and torch start-up, loading the base model, checking and analysing every take,
fine-tuning, the texture bank, writing and validating the bundle. The takes are two FSDD
training-split recordings per digit of one speaker (``--speaker``), or ``--takes FOLDER``.
Personal models go to a temporary folder (``$VAESYNTH_USER_MODELS``), never the user's.

    python bench/bench_adapt.py --data /path/to/fsdd/recordings --runs 3 [--json out.json]

Reports the wall time of each run (median and max), the bundle's size on disk, and the
machine's load average before the runs (a busy machine makes them slower). Target: at most
3 minutes on a 2-core CPU, at most 2 MB added.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import loadavg

ROOT = Path(__file__).resolve().parents[1]


def fsdd_takes(data: Path, speaker: str, folder: Path, per_digit: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(10):
        for i in range(5, 5 + per_digit):
            shutil.copy(data / f"{d}_{speaker}_{i}.wav", folder / f"{d}_{speaker}_{i}.wav")
    return folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="the FSDD recordings folder (takes of --speaker)")
    p.add_argument("--speaker", default="jackson")
    p.add_argument("--takes", help="a folder of takes instead")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--steps", type=int, help="fine-tuning steps (default: the command's)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-adapt-"))
    try:
        if args.takes:
            takes = Path(args.takes)
        elif args.data:
            takes = fsdd_takes(Path(args.data), args.speaker, work / "takes")
        else:
            p.error("give --data (FSDD) or --takes")
        env = {**os.environ, "VAESYNTH_USER_MODELS": str(work / "models")}
        load = loadavg()
        seconds, sizes = [], []
        for run in range(args.runs):
            cmd = [sys.executable, "-m", "training", "adapt", str(takes), "--name", f"bench {run}"]
            cmd += ["--steps", str(args.steps)] if args.steps is not None else []
            t0 = time.perf_counter()
            out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            seconds.append(time.perf_counter() - t0)
            if out.returncode != 0:
                raise SystemExit(f"adapt failed: {out.stderr.strip()}")
            folder = work / "models" / f"bench {run}"
            sizes.append(sum(f.stat().st_size for f in folder.iterdir()) / 2**20)
            print(f"run {run + 1}: {seconds[-1]:.1f} s, {sizes[-1]:.2f} MB", flush=True)
        res = {
            "takes": len(list(takes.glob("*.wav"))),
            "runs": args.runs,
            "seconds": [round(s, 1) for s in seconds],
            "median_s": round(sorted(seconds)[len(seconds) // 2], 1),
            "max_s": round(max(seconds), 1),
            "bundle_mb": round(max(sizes), 2),
            "cpus": os.cpu_count(),
            "loadavg_before": load,
        }
        print(json.dumps(res, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
