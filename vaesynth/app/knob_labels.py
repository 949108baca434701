"""What a knob does, in words: the short label under a dial and the measured effects in its tooltip.

The numbers come from the bundle (``knob_labels``, measured when it was made by
``training/annotate.py``): turning the knob from -2 to +2, every other knob at 0, averaged over
the ten digits. Pure functions, no Qt.
"""

from __future__ import annotations

import re

# effect name -> (unit text, format); in the order they are listed
EFFECTS = (
    ("f0_semitones", "{:+.1f} semitones"),
    ("duration_pct", "{:+.0f}% duration"),
    ("loudness_db", "{:+.1f} dB"),
    ("centroid_pct", "{:+.0f}% brightness (spectral centroid)"),
)
NO_CLEAR = "no clear effect"
_PREFIX = re.compile(r"^z\d+:\s*")


def label_text(entry: dict | None) -> str:
    """The label without its ``zN:`` prefix (``"higher pitch"``, ``"more like theo"``); "" when unknown."""
    if not entry:
        return ""
    return _PREFIX.sub("", str(entry.get("label", ""))).strip()


def short_label(entry: dict | None) -> str:
    """The label as shown under a dial: :func:`label_text`, with "more like theo" as "like theo"
    (the name is what matters in a narrow cell)."""
    text = label_text(entry)
    return text.removeprefix("more ") if text.startswith("more like ") else text


def effects_text(entry: dict | None) -> str:
    """``"turning up: +2.1 semitones, -3% duration, ..."``, saying so when nothing is clear."""
    if not entry:
        return "What this knob does was not measured for this model."
    effects = entry.get("effects", {}) or {}
    parts = [fmt.format(effects[k]) for k, fmt in EFFECTS if k in effects]
    label = label_text(entry)
    if "speaker" in effects:
        towards = label if label.startswith("more like") else "towards one training speaker"
        parts.append(f"{towards} (speaker probability {effects['speaker']:+.2f})")
    measured = ", ".join(parts) if parts else "nothing measured"
    if label == NO_CLEAR:
        return f"No clear effect: every change is below what a listener notices ({measured})."
    return f"Turning up ({label}): {measured}."


def tooltip(index: int, entry: dict | None) -> str:
    """The dial's tooltip: which dimension, what it does, how to use it."""
    return (
        f"Latent dimension {index + 1}, in standard units (0 = the digit's typical voice).\n"
        f"{effects_text(entry)}\n"
        "(Measured from -2 to +2 with every other knob at 0, over all ten digits.)\n"
        "Drag, scroll or use the arrow keys; Delete or a double-click on the value resets it."
    )
