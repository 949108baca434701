"""What did every natural-voice variant measure? A Markdown table of docs/results/natural_voice.json.

python experiments/natural_voice_table.py [docs/results/natural_voice.json]
"""

from __future__ import annotations

import json

from common import REPO, plain_parser  # experiments/common.py

COLS = [
    ("two_sample", "2-sample", "{:.3f}"),
    ("two_sample_embedding_only", "2-s. emb.", "{:.3f}"),
    ("fid_ratio", "FID/floor", "{:.2f}"),
    ("flux_ratio", "flux", "{:.2f}"),
    ("aperiodic_ratio", "aperiodic", "{:.2f}"),
    ("acc_independent", "indep. acc.", "{:.1%}"),
    ("acc_judge", "CNN acc.", "{:.1%}"),
    ("diversity", "diversity", "{:.3f}"),
    ("diversity_min_digit", "min digit", "{:.3f}"),
    ("near_copies", "near-copies", "{:.1%}"),
    ("periodicity_ratio", "periodicity", "{:.2f}"),
    ("recon_two_sample", "recon 2-s.", "{:.3f}"),
]


def main() -> None:
    p = plain_parser(__doc__)
    p.add_argument("path", nargs="?", default=str(REPO / "docs/results/natural_voice.json"))
    data = json.loads(open(p.parse_args().path).read())
    head = "| variant | what changed | " + " | ".join(c[1] for c in COLS) + " | training | kept |"
    print(head)
    print("|---|---|" + "---|" * len(COLS) + "---|---|")
    for name, v in data["variants"].items():
        m = v.get("measures") or v.get("measures_draw_seed1", {})  # a row of repeated draws: the first
        cells = [fmt.format(m[k]) if k in m else "-" for k, _, fmt in COLS]
        print(f"| {name} | {v['what']} | " + " | ".join(cells) + f" | {v['train']} | {v['kept']} |")


if __name__ == "__main__":
    main()
