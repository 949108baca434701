"""How many adversarial steps does the stage need? One adversarial run (the shipped stage,
``RECIPES["cvae"].adv``) from a finished VAE checkpoint, with a bundle written at several step
counts of the same trajectory, so they differ only in length. Judge them with
``python -m training.judges --bundle a800=OUT/a800 …`` (several ``--seed`` draws).

    python experiments/natural_voice_advsteps.py --ckpt RUNS/e80_utt/checkpoints/last.ckpt \\
        --data …/recordings --out OUT [--steps 400,600,800,1000] [--seed 0]

Snapshots are taken when the stage logs (every 200 steps and at the end), so the step counts must
be multiples of 200 or the last one. The adversarial-steps figures in docs/results/natural_voice.md
came from this procedure.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from common import plain_parser  # experiments/common.py
from torch.utils.data import DataLoader

from training.adversarial import AdvConfig, finetune
from training.config import RECIPES
from training.data import find_data, load_dataset
from training.experiment import VAEExperiment
from training.fit import export_bundle, tensors


def main() -> int:
    p = plain_parser(__doc__)
    p.add_argument("--ckpt", required=True, help="a finished VAE's Lightning checkpoint (last.ckpt)")
    p.add_argument("--data", help="FSDD recordings (else $VAESYNTH_FSDD or the user cache)")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", default="400,600,800,1000", help="step counts to write bundles at")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    keep = sorted(int(s) for s in args.steps.split(","))
    torch.set_flush_denormal(True)
    module = VAEExperiment.load_from_checkpoint(args.ckpt, map_location="cpu")
    recipe = module.recipe
    module.beta_now = lambda: recipe.beta  # as after Trainer.fit: the KL warm-up is over
    ds = load_dataset(find_data(args.data), recipe.spectral)
    train, _ = ds.split()
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    dl = DataLoader(tensors(train), batch_size=recipe.batch_size, shuffle=True, generator=g, drop_last=True)
    snaps: dict[int, dict] = {}

    def log(msg: str) -> None:  # "adv step N/M: …", every 200 steps and at the end
        print(msg, flush=True)
        step = int(msg.split()[2].split("/")[0])
        if step in keep:
            snaps[step] = copy.deepcopy(module.model.state_dict())

    finetune(module, dl, AdvConfig(**{**RECIPES["cvae"].adv, "steps": keep[-1]}), log=log)
    model = module.model
    for step, state in sorted(snaps.items()):
        model.load_state_dict(state)
        model.eval()
        out = Path(args.out) / f"a{step}"
        training = {"adv_steps": step, "seed": args.seed, "from": Path(args.ckpt).parent.parent.name}
        export_bundle(model, recipe, ds, train, out, training)  # the render settings: the checkpoint's recipe
        print("wrote", out, flush=True)
    missing = sorted(set(keep) - set(snaps))
    if missing:
        print(f"no snapshot at steps {missing}: not multiples of 200", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
