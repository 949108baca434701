"""What does a training step of the natural-voice recipe cost on the CPU?

Relative cost: seconds per training step of the old cvae recipe,
the gated 32-dim VAE and one adversarial step, measured interleaved in one process (so a busy
machine slows all three alike). Multiply by step counts and scale by a full timed run of the old
recipe to estimate the new recipe's wall time.

    python experiments/natural_voice_steptime.py [--rounds 3] [--steps 10]
"""

from __future__ import annotations

import os
import time

import torch
from common import plain_parser  # experiments/common.py

from training.adversarial import AdvConfig, finetune
from training.config import RECIPES
from training.experiment import VAEExperiment


def batch(b=32):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, 112, 129, generator=g) * 0.6
    return [x, torch.randint(0, 10, (b,), generator=g), torch.full((b,), 70), torch.full((b, 112), 120.0),
            torch.rand(b, 112, generator=g)]  # fmt: skip


def vae_steps(module, n):
    opt = torch.optim.AdamW(module.parameters(), 1e-4)
    module.train()
    t = time.perf_counter()
    for _ in range(n):
        loss = module.losses(batch())["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) / n


def main() -> None:
    p = plain_parser(__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    torch.set_flush_denormal(True)
    new_recipe = RECIPES["cvae"]
    old_params = {**new_recipe.params, "latent_dim": 12, "voicing": False, "texture": 0.0, "hard_gate": False}
    old = VAEExperiment(new_recipe.with_overrides(params=old_params, beta=1.0, adv={}, render={}))
    new = VAEExperiment(new_recipe)
    res = {"old_vae": [], "new_vae": [], "adv": []}
    for _ in range(args.rounds):
        res["old_vae"].append(vae_steps(old, args.steps))
        res["new_vae"].append(vae_steps(new, args.steps))
        t = time.perf_counter()
        finetune(new, [batch()] * args.steps, AdvConfig(steps=args.steps, warmup_steps=0), log=lambda *a: None)
        res["adv"].append((time.perf_counter() - t) / args.steps)
    med = {k: sorted(v)[len(v) // 2] for k, v in res.items()}
    print({k: round(v, 4) for k, v in med.items()}, "load", os.getloadavg())
    print(f"adv step / old VAE step = {med['adv'] / med['old_vae']:.2f}; new VAE step / old = "
          f"{med['new_vae'] / med['old_vae']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
