"""Evaluation takes for "any voice in" (bench/bench_voice_in.py): FSDD test takes shifted in pitch and
formants together, and espeak-ng's female and child voices saying the digits.

**Shift** (``shift``): the way ``sox pitch`` moves a voice, both f0 and formants by ``r = 2 ** (s / 12)``
with the duration kept: the 8 kHz recording is resampled to 16 kHz (soxr), time-stretched by ``r``
with a phase vocoder (``librosa.effects.time_stretch``, 512-point frames = 32 ms, hop 128), then
resampled by ``1 / r`` (soxr) back to 16 kHz, which plays it ``r`` times higher in the original
duration. The takes are written at 16 kHz: a microphone delivers the whole band, and a voice shifted
up has content above the model's 4 kHz (an 8 kHz file would have cut it).

**espeak-ng** (``espeak_take``): ``espeak-ng -v en-us+VARIANT -w OUT.wav WORD`` for the digit's word at
22.05 kHz. Female: the variants f1-f5 (their formant scale 1.05-1.35, f0 140-240 Hz). Child: f2 and
f4 at ``-p 80``, then shifted +3 semitones as above (formants x1.19 beyond the female voice's; espeak
has no child variant).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FEMALE = ("f1", "f2", "f3", "f4", "f5")
CHILD = ("f2", "f4")
CHILD_SHIFT = 3.0
RATE = 16000
TEST_INDEX = range(5)  # FSDD's test split: recordings 0-4 of every digit and speaker


def fsdd_test(data: Path) -> list[Path]:
    """The FSDD test recordings (index 0-4), sorted: 300 files."""
    return sorted(p for p in Path(data).glob("*.wav") if int(p.stem.split("_")[2]) in TEST_INDEX)


def shift(wave: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """``wave`` at ``rate`` Hz -> float32 at :data:`RATE` Hz, pitch and formants moved by ``semitones``,
    duration kept (see the module doc)."""
    import librosa

    from vaesynth.dsp.spectral import resample

    x = resample(np.asarray(wave, np.float32), rate, RATE)
    if semitones == 0:
        return x
    r = 2.0 ** (semitones / 12.0)
    stretched = librosa.effects.time_stretch(x, rate=1.0 / r, n_fft=512, hop_length=128)
    # played r times faster: resample from RATE * r down to RATE (as integers: soxr takes any rate pair)
    y = resample(stretched.astype(np.float32), int(round(RATE * r)), RATE)
    peak = float(np.max(np.abs(y))) or 1.0
    return (y * min(1.0, 0.9 / peak)).astype(np.float32)


def espeak_take(word: str, variant: str, pitch: int | None = None) -> tuple[np.ndarray, int]:
    """espeak-ng saying ``word`` in ``en-us+variant``: float32 samples and their rate."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = Path(subprocess.run(["mktemp", "--suffix=.wav"], capture_output=True, text=True, check=True).stdout.strip())
    try:
        cmd = [exe, "-v", f"en-us+{variant}", "-w", str(out)] + (["-p", str(pitch)] if pitch is not None else [])
        subprocess.run([*cmd, word], check=True, capture_output=True, timeout=30)
        wave, rate = sf.read(str(out), dtype="float32")
    finally:
        out.unlink(missing_ok=True)
    return wave, int(rate)


def build(data: Path, folder: Path, shifts: tuple[float, ...], per_shift: int | None) -> dict[str, list[Path]]:
    """Write the sets into ``folder`` (reused when present): ``{set name: [wav paths]}``. File names start
    with the digit. ``per_shift``: how many FSDD test takes per shift (every ``300 / n``-th; all if None)."""
    import soundfile as sf

    sets: dict[str, list[Path]] = {}
    files = fsdd_test(data)
    if per_shift is not None and per_shift < len(files):
        files = files[:: max(1, len(files) // per_shift)][:per_shift]
    for s in shifts:
        name = f"fsdd {s:+g} st"
        sub = folder / f"fsdd{s:+g}"
        sub.mkdir(parents=True, exist_ok=True)
        sets[name] = []
        for f in files:
            out = sub / f.name
            if not out.is_file():
                wave, rate = sf.read(str(f), dtype="float32")
                sf.write(str(out), shift(wave, rate, s), RATE, subtype="FLOAT")
            sets[name].append(out)
    if shutil.which("espeak-ng"):
        for name, variants, extra in (("espeak female", FEMALE, None), ("espeak child", CHILD, 80)):
            sub = folder / name.replace(" ", "-")
            sub.mkdir(parents=True, exist_ok=True)
            sets[name] = []
            for v in variants:
                for d, word in enumerate(WORDS):
                    out = sub / f"{d}_{v}.wav"
                    if not out.is_file():
                        wave, rate = espeak_take(word, v, extra)
                        if extra is not None:
                            wave, rate = shift(wave, rate, CHILD_SHIFT), RATE
                        sf.write(str(out), wave, rate, subtype="FLOAT")
                    sets[name].append(out)
    return sets
