"""What the research scripts in ``experiments/`` share: the repository on the import path, their
command-line arguments, and a bundle loaded next to the judges it is measured by.

Import it first in a script (``from common import ...``): it puts the repository root on
``sys.path``, so ``python experiments/X.py`` runs from a clean clone without an installed package.
The benchmarks in ``bench/`` have their own helpers (``bench/common.py``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _description(doc: str) -> str:
    """The first paragraph of a script's docstring: the question it answers."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def plain_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by ``doc``'s first paragraph (for scripts with their own arguments)."""
    return argparse.ArgumentParser(description=_description(doc))


def diagnosis_parser(doc: str, per_digit: bool = True) -> argparse.ArgumentParser:
    """The arguments shared by the scripts that judge a bundle, described by the first paragraph of
    ``doc``: ``--bundle`` and ``--data`` (required), and ``--per-digit`` (fresh voices per digit, 30)
    where the script draws fresh voices."""
    p = plain_parser(doc)
    p.add_argument("--bundle", required=True, help="a model bundle folder (e.g. resources/models/cvae)")
    p.add_argument("--data", required=True, help="the FSDD recordings folder")
    if per_digit:
        p.add_argument("--per-digit", type=int, default=30, help="fresh voices per digit (default 30)")
    return p


@dataclass
class Judged:
    """A bundle, its model (in eval mode), an engine over it and the judges of ``training.judges``."""

    bundle: Any
    model: Any
    synth: Any
    judges: Any

    def two_sample_view(self, feats: Any, lens: Any) -> Any:
        """The two-sample judge's view of decoded or analysed ``feats`` ``(N, T, F)`` with ``lens`` valid
        frames: its classifier's embedding next to the time-normalised log-mel."""
        from training import judges as J

        jd = self.judges
        return J.two_sample_features(J.penultimate(jd.clf, feats), feats, lens, jd.cfg)


def load_judged(bundle: str | Path, data: str | Path) -> Judged:
    """Load the bundle at ``bundle`` and the judges trained on the recordings at ``data``."""
    from training import judges as J
    from vaesynth.engine.synth import Synth
    from vaesynth.model.bundle import load_bundle

    b = load_bundle(bundle)
    synth = Synth(b, torch_threads=None)
    return Judged(b, b.model.eval(), synth, J.Judges(Path(data), synth.spectral))
