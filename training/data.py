"""FSDD: finding, fetching, verifying, reading and featurising the recordings.

Where the recordings come from, in order:
1. ``--data PATH`` on the command line (a folder of ``{digit}_{speaker}_{index}.wav``, or its parent);
2. the environment variable ``VAESYNTH_FSDD``;
3. the user cache folder (``$XDG_CACHE_HOME/vaesynth/fsdd/recordings``), filled by
   ``vaesynth-train download`` (a pinned FSDD release, every file checked against a SHA-256
   fingerprint).

Broken input never stops a run, and is never used silently: stereo files are mixed down, other
sample rates are resampled; empty, unreadable (no permission, not a file), corrupt, truncated
(less audio than the header declares) or silent files are skipped; every such event is counted
in a :class:`LoadReport` that the training command prints. The report is stored with the
feature cache, so a run served from the cache prints the same report.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from vaesynth.dsp.pitch import pitch_track
from vaesynth.dsp.spectral import SpectralConfig, normalize_peak, trim_silence, wave_to_features
from vaesynth.sound.recordings import ENV_VAR, NAME_RE, cache_root, default_data_dir, recordings_in
from vaesynth.sound.safeio import (
    AudioLimitError,
    NotAFileError,
    TooLargeError,
    atomic_write,
    open_regular,
    read_audio,
    read_bounded,
)

FSDD_RELEASE = "v1.0.10"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{FSDD_RELEASE}.tar.gz"
# SHA-256 over the sorted lines "name sha256(file)" of all 3,000 recordings (see fingerprint()).
FSDD_FINGERPRINT = "3ee995d6778c7ff34ae05297eb4f0002f5097dec693dcf8735ec30e8d8146944"
FSDD_N_FILES = 3000
TEST_INDICES = range(0, 5)  # official split: index 0-4 test, 5-49 train
MAX_RECORDING_BYTES = 16 << 20  # FSDD recordings are at most ~40 KB
MAX_RECORDING_SECONDS = 30.0  # by the header, checked before decoding (FSDD: at most ~2.3 s)


class DataError(Exception):
    """The dataset cannot be found or is not what it should be (one readable sentence)."""


def runs_dir() -> Path:
    """Where training runs keep their checkpoints and logs: ``<cache>/runs/<run name>/``."""
    return cache_root() / "runs"


def find_data(path: str | os.PathLike | None = None) -> Path:
    """Locate the FSDD recordings folder (see module doc) or raise :class:`DataError`."""
    if path is not None:
        found = recordings_in(path)
        if found is None:
            raise DataError(f"no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) found in {path}")
        return found
    env = os.environ.get(ENV_VAR)
    if env:
        found = recordings_in(env)
        if found is None:
            raise DataError(f"{ENV_VAR}={env} holds no FSDD recordings")
        return found
    found = recordings_in(default_data_dir())
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
    from_cache: bool = field(default=False, compare=False)  # features served from the cache

    def note(self, kind: str, reason: str, name: str) -> None:
        getattr(self, kind)[reason] += 1
        self.examples.setdefault(reason, name)

    def to_dict(self) -> dict:
        """Plain JSON-able values (stored with the feature cache)."""
        return {
            "loaded": self.loaded, "converted": dict(self.converted), "skipped": dict(self.skipped),
            "examples": dict(self.examples),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> LoadReport:
        return cls(int(d["loaded"]), Counter(d["converted"]), Counter(d["skipped"]), dict(d["examples"]))

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        parts = [f"{self.loaded} recordings loaded"]
        for reason, n in sorted(self.converted.items()):
            parts.append(f"{n} {reason} (converted, e.g. {self.examples[reason]})")
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"{n} skipped: {reason} (e.g. {self.examples[reason]})")
        return "; ".join(parts)


def wav_data_shortfall(blob: bytes) -> int:
    """Bytes missing from the ``data`` chunk of a RIFF/WAVE file (its header's size minus what
    the file holds); 0 when complete, when the size is the "unknown" marker of a streamed file,
    or when ``blob`` is no RIFF/WAVE file or has no ``data`` chunk (then the decoder judges it)."""
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        return 0
    pos = 12
    while pos + 8 <= len(blob):
        chunk, size = blob[pos : pos + 4], int.from_bytes(blob[pos + 4 : pos + 8], "little")
        body = pos + 8
        if chunk == b"data":
            return 0 if size == 0xFFFFFFFF else max(0, size - (len(blob) - body))
        pos = body + size + (size & 1)
    return 0


def read_wav(path: Path, cfg: SpectralConfig, report: LoadReport) -> np.ndarray | None:
    """Read one wav as float32 mono at ``cfg.sample_rate``; ``None`` (and a report entry) if unusable."""
    name = path.name
    try:  # the one bounded reader: a FIFO, a device or a link to one is refused before it is opened
        blob = read_bounded(path, MAX_RECORDING_BYTES, "recording")
    except NotAFileError as e:
        report.note("skipped", f"not a regular file ({str(e).rsplit(' is ', 1)[-1].split(',')[0]})", name)
        return None
    except TooLargeError:
        report.note("skipped", f"larger than {MAX_RECORDING_BYTES >> 20} MB", name)
        return None
    except OSError as e:  # no permission, a folder named *.wav, I/O error
        report.note("skipped", f"unreadable file ({e.strerror or type(e).__name__})", name)
        return None
    if not blob:
        report.note("skipped", "empty wav", name)
        return None
    if wav_data_shortfall(blob) > 0:
        report.note("skipped", "truncated wav (less audio than its header declares)", name)
        return None
    try:  # the header (rate, channels, length) is checked before anything is decoded
        wave, sr = read_audio(blob, max_seconds=MAX_RECORDING_SECONDS)
    except AudioLimitError as e:
        report.note("skipped", f"outside the limits ({str(e).split(' (')[0].removeprefix('it ')})", name)
        return None
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
        report.note("skipped", "not a readable wav", name)
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


def preflight(path: str | os.PathLike | None, limit_per_digit_speaker: int | None = None) -> Path:
    """Fail fast, before torch loads, when the data cannot make a model: no usable recording, or the
    training takes' names lack a digit. Returns the recordings folder; :class:`DataError` otherwise."""
    folder = find_data(path)
    files = sorted(p for p in folder.glob("*.wav") if NAME_RE.match(p.name))
    if limit_per_digit_speaker is not None:
        files = [p for p in files if int(NAME_RE.match(p.name).group(3)) < limit_per_digit_speaker]
    report = LoadReport()
    if not any(read_wav(p, SpectralConfig(), report) is not None for p in files):
        raise DataError(f"none of the {len(files)} recordings in {folder} could be read ({report.summary()})")
    train = {int(m.group(1)) for m in map(NAME_RE.match, (p.name for p in files)) if int(m.group(3)) >= 5}
    if not train:
        raise DataError("no training recordings (takes with index 5 or more); use more data or a larger --limit")
    missing = sorted(set(range(10)) - train)
    if missing:
        raise DataError(f"the training recordings lack digits {missing}; a model needs all ten (use more data)")
    return folder


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
            with os.fdopen(open_regular(cache_file), "rb") as f, np.load(f, allow_pickle=False) as z:
                report = LoadReport.from_dict(json.loads(str(z["report"])))
                report.from_cache = True
                return Dataset(
                    z["features"].astype(np.float32), z["n_valid"], z["digit"], z["speaker"], z["index"],
                    z["f0"], z["voicing"], [str(s) for s in z["speakers"]], [str(s) for s in z["names"]], fp,
                    report,
                )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a corrupt or older cache (without the load report) is rebuilt
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
        raise DataError(f"none of the {len(files)} recordings in {folder} could be read ({report.summary()})")
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
        write_feature_cache(ds, cache_file)
    return ds


def write_feature_cache(ds: Dataset, cache_file: Path) -> None:
    """Store ``ds`` (features as float16) and its load report in ``cache_file``, atomically.

    The temp name is unique, so processes of a distributed run may write the same entry at
    once; temp files of killed writers (older than an hour) are removed. A cache that cannot be
    written (read-only or full disk) only costs the next run the featurisation.
    """
    folder = cache_file.parent

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(
                f, features=ds.features.astype(np.float16), n_valid=ds.n_valid, digit=ds.digit,
                speaker=ds.speaker, index=ds.index, f0=ds.f0, voicing=ds.voicing,
                speakers=np.array(ds.speakers), names=np.array(ds.names),
                report=np.array(json.dumps(ds.report.to_dict() if ds.report else LoadReport().to_dict())),
            )  # fmt: skip

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in [*folder.glob("*.tmp.npz"), *folder.glob(".vs-*.tmp")]:
            try:
                if stale.is_file() and time.time() - stale.stat().st_mtime > 3600:
                    stale.unlink()
            except OSError:
                pass
        atomic_write(cache_file, save)  # never through a link to a device or FIFO
    except OSError:
        pass


def fingerprint_files(files: list[Path]) -> dict:
    """File count and a SHA-256 over the lines ``"name sha256(content)"`` of ``files``.

    A file that cannot be read still counts, as ``"name unreadable: <error>"``, so the loader
    can skip and report it, and the fingerprint changes once it becomes readable.
    """
    lines = []
    for p in sorted(files):
        try:
            lines.append(f"{p.name} {hashlib.sha256(read_bounded(p, MAX_RECORDING_BYTES)).hexdigest()}")
        except OSError as e:
            lines.append(f"{p.name} unreadable: {type(e).__name__}")
    return {"n_files": len(lines), "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()}
