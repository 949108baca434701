"""Writing WAV files (vaesynth.sound.wavfile): atomic replacement, and special files written to, never replaced."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vaesynth.sound import wavfile
from vaesynth.sound.wavfile import remove_stale_temporaries, wav_bytes, write_wav

ROOT = Path(__file__).resolve().parents[1]
TONE = (0.5 * np.sin(np.arange(800) * 0.3)).astype(np.float32)


def read(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), dtype="float32")


def test_regular_file_round_trip_and_no_temporaries(tmp_path: Path) -> None:
    out = write_wav(tmp_path / "a.wav", TONE, 8000)
    assert out == tmp_path / "a.wav"
    x, sr = sf.read(out, dtype="float32")
    assert sr == 8000 and np.allclose(x, TONE, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_replacing_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "private.wav"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_wav(target, TONE, 8000)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sf.info(str(target)).frames == len(TONE)


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    real = tmp_path / "real.wav"
    real.write_bytes(b"old")
    link = tmp_path / "link.wav"
    link.symlink_to(real)
    assert write_wav(link, TONE, 8000) == real
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sf.info(str(real)).frames == len(TONE)


def test_a_fifo_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_wav(fifo, TONE, 8000)
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    x, sr = read(got[0])
    assert sr == 8000 and len(x) == len(TONE)


def test_stdout_gets_a_complete_wav() -> None:
    code = "import numpy as np; from vaesynth.sound.wavfile import write_wav; write_wav('-', np.zeros(400), 8000)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    x, sr = read(res.stdout)
    assert sr == 8000 and len(x) == 400


def test_the_longest_legal_name_works(tmp_path: Path) -> None:
    name = "x" * 251 + ".wav"  # 255 bytes, the file-system limit
    write_wav(tmp_path / name, TONE, 8000)
    assert (tmp_path / name).is_file()


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "keep.wav"
    target.write_bytes(b"old contents")
    real_write = os.write

    def write_then_fail(fd: int, data) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wavfile.os, "write", write_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_wav(target, TONE, 8000)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_empty_path_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_wav("", TONE, 8000)
    with pytest.raises(IsADirectoryError):
        write_wav(tmp_path, TONE, 8000)


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".vs-0123abcd.tmp").write_bytes(b"x")
    (tmp_path / "keep.wav").write_bytes(wav_bytes(TONE, 8000))
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a device node needs root and a private mount namespace (unshare -m)",
)
def test_a_device_node_is_written_to_not_replaced(tmp_path: Path) -> None:
    """`vaesynth say 12 -o /dev/null` as root must not swap the device for a file (checked on a private /dev/null)."""
    mnt = tmp_path / "dev"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs none {mnt} && mknod {mnt}/null c 1 3 && "
        f"{sys.executable} -m vaesynth say 12 --model {{model}} -o {mnt}/null && "
        f"stat -c %F {mnt}/null"
    )
    from training.bundling import untrained_bundle

    model = untrained_bundle("mlp", tmp_path / "mlp")
    res = subprocess.run(
        ["unshare", "-m", "sh", "-c", script.format(model=model)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    if res.returncode != 0 and "unshare" in res.stderr and "ermission" in res.stderr:
        pytest.skip(f"no private mount namespace here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "character special file"
