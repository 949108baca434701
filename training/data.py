"""FSDD: finding, fetching, verifying, reading and featurising the recordings.

Where the recordings come from, in order:
1. ``--data PATH`` on the command line (a folder of ``{digit}_{speaker}_{index}.wav``, or its parent);
2. the environment variable ``VAESYNTH_FSDD``;
3. the user cache folder (``$XDG_CACHE_HOME/vaesynth/fsdd/recordings``), filled by
   ``vaesynth-train download`` (a pinned FSDD release, every file checked against a SHA-256
   fingerprint).

Broken input never stops a run silently: stereo files are mixed down, other sample rates are
resampled, empty or unreadable files are skipped, and every such event is counted in a
:class:`LoadReport` that the training command prints at the end.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from vaesynth.pitch import pitch_track
from vaesynth.spectral import SpectralConfig, normalize_peak, trim_silence, wave_to_features

ENV_VAR = "VAESYNTH_FSDD"
FSDD_RELEASE = "v1.0.10"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{FSDD_RELEASE}.tar.gz"
# SHA-256 over the sorted lines "name sha256(file)" of all 3,000 recordings (see fingerprint()).
FSDD_FINGERPRINT = "3ee995d6778c7ff34ae05297eb4f0002f5097dec693dcf8735ec30e8d8146944"
FSDD_N_FILES = 3000
NAME_RE = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
TEST_INDICES = range(0, 5)  # official split: index 0-4 test, 5-49 train


class DataError(Exception):
    """The dataset cannot be found or is not what it should be (one readable sentence)."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vaesynth"


def default_data_dir() -> Path:
    return cache_root() / "fsdd" / "recordings"


def _recordings_in(path: Path) -> Path | None:
    """``path`` itself if it holds FSDD-named wavs, or its ``recordings/`` subfolder."""
    for cand in (path, path / "recordings"):
        if cand.is_dir() and any(NAME_RE.match(p.name) for p in cand.glob("*.wav")):
            return cand
    return None


def find_data(path: str | os.PathLike | None = None) -> Path:
    """Locate the FSDD recordings folder (see module doc) or raise :class:`DataError`."""
    tried = []
    if path is not None:
        found = _recordings_in(Path(path))
        if found is None:
            raise DataError(f"no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) found in {path}")
        return found
    env = os.environ.get(ENV_VAR)
    if env:
        found = _recordings_in(Path(env))
        if found is None:
            raise DataError(f"{ENV_VAR}={env} holds no FSDD recordings")
        return found
    tried.append(str(default_data_dir()))
    found = _recordings_in(default_data_dir())
    if found is not None:
        return found
    raise DataError(
        "FSDD recordings not found: pass --data PATH, set "
        f"{ENV_VAR}=PATH, or run 'vaesynth-train download' to fetch them into {default_data_dir()}"
    )


def fingerprint(folder: str | os.PathLike) -> dict:
    """Content fingerprint of a recordings folder: file count and a SHA-256 over all files."""
    return fingerprint_files([p for p in Path(folder).glob("*.wav") if NAME_RE.match(p.name)])


def download(dest: str | os.PathLike | None = None, url: str = FSDD_URL, expected: str | None = None) -> Path:
    """Fetch the pinned FSDD release into ``dest`` (default: the user cache) and verify it.

    The archive's recordings are extracted to a temporary folder, fingerprinted, and moved into
    place only when the fingerprint matches; nothing half-written is left behind.
    """
    expected = FSDD_FINGERPRINT if expected is None else expected
    dest = Path(dest) if dest is not None else default_data_dir()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - pinned https URL
            blob = resp.read()
    except OSError as e:
        raise DataError(
            f"could not download FSDD ({e}); pass --data PATH, set {ENV_VAR}=PATH, "
            f"or place the recordings in {default_data_dir()}"
        ) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        out = Path(tmp) / "recordings"
        out.mkdir()
        try:
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if member.isfile() and "/recordings/" in f"/{member.name}" and NAME_RE.match(name):
                        data = tar.extractfile(member)
                        if data is not None:
                            (out / name).write_bytes(data.read())
        except (tarfile.TarError, OSError) as e:
            raise DataError(f"the downloaded FSDD archive is corrupt: {e}") from None
        fp = fingerprint(out)
        if fp["sha256"] != expected:
            raise DataError(
                f"the downloaded FSDD archive failed verification ({fp['n_files']} files, "
                f"fingerprint {fp['sha256'][:12]}…, expected {expected[:12]}…); nothing was kept"
            )
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(out), str(dest))
    return dest


@dataclass
class LoadReport:
    """What happened to each input file while loading."""

    loaded: int = 0
    converted: Counter = field(default_factory=Counter)  # reason -> count (file still used)
    skipped: Counter = field(default_factory=Counter)  # reason -> count (file dropped)
    examples: dict = field(default_factory=dict)  # reason -> first file name

    def note(self, kind: str, reason: str, name: str) -> None:
        getattr(self, kind)[reason] += 1
        self.examples.setdefault(reason, name)

    def summary(self) -> str:
        parts = [f"{self.loaded} recordings loaded"]
        for reason, n in sorted(self.converted.items()):
            parts.append(f"{n} {reason} (converted, e.g. {self.examples[reason]})")
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"{n} skipped: {reason} (e.g. {self.examples[reason]})")
        return "; ".join(parts)


def read_wav(path: Path, cfg: SpectralConfig, report: LoadReport) -> np.ndarray | None:
    """Read one wav as float32 mono at ``cfg.sample_rate``; ``None`` (and a report entry) if unusable."""
    name = path.name
    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
        report.note("skipped", "unreadable or truncated wav", name)
        return None
    if wave.shape[0] == 0:
        report.note("skipped", "empty wav", name)
        return None
    if wave.shape[1] > 1:
        report.note("converted", "multi-channel mixed to mono", name)
    wave = wave.mean(axis=1)
    if sr != cfg.sample_rate:
        import soxr

        report.note("converted", f"resampled from other rates to {cfg.sample_rate} Hz", name)
        wave = soxr.resample(wave, sr, cfg.sample_rate).astype(np.float32)
    if not np.isfinite(wave).all() or np.max(np.abs(wave)) < 1e-4:
        report.note("skipped", "silent or non-finite audio", name)
        return None
    if len(wave) < cfg.n_fft:
        report.note("skipped", f"shorter than {cfg.n_fft} samples", name)
        return None
    return wave


@dataclass
class Dataset:
    """FSDD as arrays. ``features (N, T, F)`` float32 in [0, 1]; the rest ``(N,)`` or ``(N, T)``."""

    features: np.ndarray
    n_valid: np.ndarray  # frames holding the utterance
    digit: np.ndarray
    speaker: np.ndarray  # index into ``speakers``
    index: np.ndarray  # FSDD take index (0-4 test, 5-49 train)
    f0: np.ndarray  # (N, T) Hz, from the pitch tracker
    voicing: np.ndarray  # (N, T) periodicity in [0, 1]
    speakers: list[str]
    names: list[str]
    fingerprint: dict
    report: LoadReport | None = None

    def __len__(self) -> int:
        return len(self.digit)

    def subset(self, mask: np.ndarray) -> Dataset:
        names = [n for n, m in zip(self.names, mask, strict=True) if m]
        return Dataset(
            self.features[mask], self.n_valid[mask], self.digit[mask], self.speaker[mask], self.index[mask],
            self.f0[mask], self.voicing[mask], self.speakers, names, self.fingerprint, self.report,
        )  # fmt: skip

    def split(self) -> tuple[Dataset, Dataset]:
        """The official split: (train = index 5-49, test = index 0-4)."""
        test = np.isin(self.index, list(TEST_INDICES))
        return self.subset(~test), self.subset(test)


def featurise(wave: np.ndarray, cfg: SpectralConfig) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """One recording -> (features (T, F), n_valid, f0 (T,), voicing (T,))."""
    feat, n_valid = wave_to_features(wave, cfg)
    trimmed = trim_silence(normalize_peak(wave, cfg), cfg)
    f0, per = pitch_track(trimmed, cfg)
    f0_out = np.full(cfg.max_frames, 120.0, dtype=np.float32)
    per_out = np.zeros(cfg.max_frames, dtype=np.float32)
    n = min(len(f0), cfg.max_frames)
    f0_out[:n], per_out[:n] = f0[:n], per[:n]
    return feat, n_valid, f0_out, per_out


def load_dataset(
    folder: str | os.PathLike,
    cfg: SpectralConfig,
    cache: bool = True,
    limit_per_digit_speaker: int | None = None,
) -> Dataset:
    """Read and featurise every FSDD recording in ``folder``, caching features on disk.

    The cache key is the folder's content fingerprint plus the spectral config, so a changed
    dataset or feature definition is never served stale features.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*.wav") if NAME_RE.match(p.name))
    if not files:
        raise DataError(f"no FSDD recordings found in {folder}")
    if limit_per_digit_speaker is not None:
        files = [p for p in files if int(NAME_RE.match(p.name).group(3)) < limit_per_digit_speaker]
    fp = fingerprint_files(files)
    key = hashlib.sha256((fp["sha256"] + repr(sorted(cfg.to_dict().items()))).encode()).hexdigest()[:16]
    cache_file = cache_root() / "features" / f"fsdd-{key}.npz"
    if cache and cache_file.is_file():
        try:
            z = np.load(cache_file, allow_pickle=False)
            return Dataset(
                z["features"].astype(np.float32), z["n_valid"], z["digit"], z["speaker"], z["index"],
                z["f0"], z["voicing"], [str(s) for s in z["speakers"]], [str(s) for s in z["names"]], fp,
                LoadReport(loaded=len(z["digit"])),
            )  # fmt: skip
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is rebuilt
    report = LoadReport()
    rows = []
    for p in files:
        wave = read_wav(p, cfg, report)
        if wave is None:
            continue
        d, spk, idx = NAME_RE.match(p.name).groups()
        rows.append((p.name, int(d), spk, int(idx), *featurise(wave, cfg)))
        report.loaded += 1
    if not rows:
        raise DataError(f"none of the {len(files)} recordings in {folder} could be read")
    speakers = sorted({r[2] for r in rows})
    ds = Dataset(
        features=np.stack([r[4] for r in rows]),
        n_valid=np.array([r[5] for r in rows], dtype=np.int64),
        digit=np.array([r[1] for r in rows], dtype=np.int64),
        speaker=np.array([speakers.index(r[2]) for r in rows], dtype=np.int64),
        index=np.array([r[3] for r in rows], dtype=np.int64),
        f0=np.stack([r[6] for r in rows]),
        voicing=np.stack([r[7] for r in rows]),
        speakers=speakers,
        names=[r[0] for r in rows],
        fingerprint=fp,
        report=report,
    )
    if cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(
            tmp, features=ds.features.astype(np.float16), n_valid=ds.n_valid, digit=ds.digit,
            speaker=ds.speaker, index=ds.index, f0=ds.f0, voicing=ds.voicing,
            speakers=np.array(speakers), names=np.array(ds.names),
        )  # fmt: skip
        tmp.replace(cache_file)
    return ds


def fingerprint_files(files: list[Path]) -> dict:
    lines = [f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in sorted(files)]
    return {"n_files": len(lines), "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()}
