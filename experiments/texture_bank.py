"""Texture bank ablation: which bank settings make fresh voices and reconstructions most like real speech?

Builds texture banks of one bundle in memory (:func:`training.texture.build_bank`), renders the
judges' fresh voices (30 per digit, keypad draws) and test reconstructions through the engine with
each, and judges them against the real test recordings (:mod:`training.judges`). One row per variant.

    python experiments/texture_bank.py --bundle resources/models/cvae --variants off,default,linear \
        --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data import find_data  # noqa: E402
from training.judges import Judges, judge_bundle, table  # noqa: E402
from training.latent_stats import encode_posteriors  # noqa: E402
from training.texture import build_bank  # noqa: E402
from vaesynth.bundle import load_bundle  # noqa: E402
from vaesynth.texture import TextureSettings  # noqa: E402

# variant: (bank options, stage settings); None = the stage off
VARIANTS: dict[str, tuple[dict, dict] | None] = {
    "off": None,
    "default": ({}, {}),
    "linear": ({}, {"align": "linear"}),
    "raw": ({"strip_static": False}, {}),
    "nopitch": ({}, {"pitch": False}),
    "k2": ({}, {"k": 2}),
    "k3": ({}, {"k": 3}),
    "gain0.8": ({}, {"gain": 0.8}),
    "gain1.2": ({}, {"gain": 1.2}),
    "cell30": ({"per_cell": 30}, {}),
    "cell20": ({"per_cell": 20}, {}),
    "cell12": ({"per_cell": 12}, {}),
    "cell14": ({"per_cell": 14}, {}),
    "b4": ({"bits": 4}, {}),
    "cell28b4": ({"per_cell": 28, "bits": 4}, {}),
    "typical2": ({}, {"typical": 2.0}),
    "typical20": ({}, {"typical": 20.0}),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default="resources/models/cvae")
    p.add_argument("--data", default=None)
    p.add_argument("--variants", default="off,default")
    p.add_argument("--per-digit", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-recon", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_flush_denormal(True)
    judges = Judges(find_data(args.data), seed=0)
    bundle = load_bundle(args.bundle)
    mu, var = encode_posteriors(bundle.model, judges.train)
    results: dict[str, dict] = {}
    banks: dict[tuple, object] = {}
    for name in args.variants.split(","):
        spec = VARIANTS[name]
        t0 = time.perf_counter()
        if spec is None:
            b = replace(bundle, texture=None)
        else:
            opts, settings = spec
            key = tuple(sorted(opts.items()))
            if key not in banks:
                banks[key] = build_bank(bundle.model, judges.train, mu, var, **opts)
            b = replace(bundle, texture=banks[key], texture_settings=TextureSettings(**settings))
        res = judge_bundle(judges, b, args.per_digit, args.seed, not args.no_recon)
        res.pop("_gen")
        if spec is not None:
            res["bank_mb"] = banks[key].nbytes / 2**20
        res["variant_seconds"] = time.perf_counter() - t0
        results[name] = res
        shown = {k: round(v, 3) for k, v in res.items() if isinstance(v, float)}
        print(f"{name}: {shown}", file=sys.stderr, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
