"""What a knob does, in words: the short label under a dial and the measured effects in its tooltip.

The numbers come from the bundle (``knob_labels``, measured when it was made by
``training/annotate.py``): turning the knob from -2 to +2, every other knob at 0, averaged over
the ten digits. Pure functions, no Qt.

Display order (:func:`display_order`): the knobs whose measured effect is clear come first,
strongest first by their effect size (``change_db``: how much the log spectrum moves, dB per
unit); the ones with no clear effect fold under "More". Only the display changes: knob ``i`` is
still latent dimension ``i`` in recipes, saved voices and MIDI CCs. Bundles annotated before the
effect size was measured (or not annotated at all) keep latent order with nothing folded.
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
STRONG = 6  # the first this many knobs of the display order are the "strongest" (labelled in full colour)
_PREFIX = re.compile(r"^z\d+:\s*")


def label_text(entry: dict | None) -> str:
    """The label without its ``zN:`` prefix (``"higher pitch"``, ``"more like theo"``); "" when unknown."""
    if not entry:
        return ""
    return _PREFIX.sub("", str(entry.get("label", ""))).strip()


def short_label(entry: dict | None) -> str:
    """The label as shown under a dial: :func:`label_text`, one line per effect it names, with "more
    like theo" as "like theo" (the name is what matters in a narrow cell)."""
    words = [w.strip() for w in label_text(entry).split(",") if w.strip()]
    return "\n".join(w.removeprefix("more ") if w.startswith("more like ") else w for w in words)


def effect_size(entry: dict | None) -> float | None:
    """The knob's measured effect size (``change_db``, dB per unit), or ``None`` when not measured."""
    if not entry:
        return None
    value = (entry.get("effects") or {}).get("change_db")
    return float(value) if isinstance(value, int | float) else None


def display_order(entries: list[dict] | tuple[dict, ...], n: int) -> tuple[list[int], list[int]]:
    """The order the panel shows ``n`` knobs in: ``(main, more)``, two lists of latent indices.

    ``main``: the knobs with a clear effect, largest :func:`effect_size` first; ``more``: the knobs
    labelled "no clear effect", largest first too (ties keep latent order). Without a measured
    effect size for every knob (an old bundle, or none annotated): ``(list(range(n)), [])``.
    """
    sizes = [effect_size(entries[i]) if i < len(entries) else None for i in range(n)]
    if n == 0 or any(s is None for s in sizes):
        return list(range(n)), []
    ranked = sorted(range(n), key=lambda i: -sizes[i])  # sorted() is stable: ties stay in latent order
    more = [i for i in ranked if label_text(entries[i]) == NO_CLEAR]
    return [i for i in ranked if i not in more], more


def effects_text(entry: dict | None) -> str:
    """``"turning up: +2.1 semitones, -3% duration, ..."``, saying so when nothing is clear."""
    if not entry:
        return "What this knob does was not measured for this model."
    effects = entry.get("effects", {}) or {}
    parts = [fmt.format(effects[k]) for k, fmt in EFFECTS if k in effects]
    label = label_text(entry)
    if "speaker" in effects:
        named = [w.strip() for w in label.split(",") if w.strip().startswith("more like")]
        towards = named[0] if named else "towards one training speaker"
        parts.append(f"{towards} (speaker probability {effects['speaker']:+.2f})")
    measured = ", ".join(parts) if parts else "nothing measured"
    size = effect_size(entry)
    if size is not None:
        measured += f"; the spectrum moves {size:.1f} dB per unit"
    if label == NO_CLEAR:
        return f"No clear effect: every change is below what a listener notices ({measured})."
    return f"Turning up ({label}): {measured}."


def tooltip(index: int, entry: dict | None, rank: int | None = None) -> str:
    """The dial's tooltip: which dimension, what it does (and, given its 0-based ``rank`` in the
    display order, how strong it is among the knobs), how to use it."""
    place = "" if rank is None else f" It is number {rank + 1} by effect size."
    return (
        f"Latent dimension {index + 1}, in standard units (0 = the digit's typical voice).\n"
        f"{effects_text(entry)}{place}\n"
        "(Measured from -2 to +2 with every other knob at 0, over all ten digits.)\n"
        "Drag, scroll or use the arrow keys; Delete or a double-click on the value resets it."
    )
