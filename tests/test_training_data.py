"""Bad training data: unreadable and truncated recordings are skipped and counted, never fatal and
never used silently; the load report is kept with the feature cache."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
from test_training import isolated_cache, tone, write_fake_fsdd  # noqa: F401 - fixture reused

from training import data as tdata
from vaesynth.dsp.spectral import SpectralConfig

CFG = SpectralConfig()


def make_unreadable(path: Path, monkeypatch) -> str:
    """Make ``path`` unreadable; returns how. chmod 000 does not stop root, so as root (the tests
    run as root in CI) every read of that file through the bounded reader - the only way the
    loader and the fingerprint read recordings - raises the PermissionError a user would get."""
    import training.data

    path.chmod(0)
    if os.access(path, os.R_OK):  # root: chmod does not bite
        real = training.data.read_bounded

        def read_bounded(p, limit: int, what: str = "file") -> bytes:  # noqa: ANN001
            if Path(p).name == path.name:
                raise PermissionError(13, "Permission denied", str(p))
            return real(p, limit, what)

        monkeypatch.setattr(training.data, "read_bounded", read_bounded)
        return "monkeypatched training.data.read_bounded"
    return "chmod 000"


def test_unreadable_wavs_are_skipped_and_counted(tmp_path, monkeypatch):
    folder = write_fake_fsdd(tmp_path / "rec", takes=2)
    make_unreadable(folder / "3_ann_1.wav", monkeypatch)
    (folder / "4_bob_1.wav").unlink()
    (folder / "4_bob_1.wav").mkdir()  # a folder that is named like a recording
    ds = tdata.load_dataset(folder, CFG, cache=False)  # used to stop with PermissionError
    r = ds.report
    assert r.loaded == 40 - 2 and len(ds) == 38
    assert r.skipped == {"unreadable file (Permission denied)": 1, "not a regular file (a folder)": 1}
    assert "3_ann_1.wav" not in ds.names and "4_bob_1.wav" not in ds.names
    assert "2 skipped" not in r.summary()  # two reasons, each counted once and named
    assert "1 skipped: unreadable file (Permission denied) (e.g. 3_ann_1.wav)" in r.summary()


def test_truncated_wav_is_detected_not_used_silently(tmp_path):
    folder = write_fake_fsdd(tmp_path / "rec", takes=2)
    good = (folder / "4_ann_0.wav").read_bytes()
    (folder / "4_ann_9.wav").write_bytes(good[:600])  # header intact, most of the audio missing
    (folder / "5_ann_9.wav").write_bytes(good[:30])  # header itself cut
    # the premise: the decoder reads the 600-byte file without complaint (278 of 3200 samples)
    wave, _ = sf.read(io.BytesIO(good[:600]))
    assert len(wave) == (600 - 44) // 2
    assert tdata.wav_data_shortfall(good) == 0
    assert tdata.wav_data_shortfall(good[:600]) == len(good) - 600
    ds = tdata.load_dataset(folder, CFG, cache=False)
    assert ds.report.skipped == {"truncated wav (less audio than its header declares)": 1, "not a readable wav": 1}
    assert ds.report.loaded == 40
    assert "4_ann_9.wav" not in ds.names


def test_load_report_survives_the_feature_cache(tmp_path, monkeypatch):
    folder = write_fake_fsdd(tmp_path / "rec", takes=2)
    (folder / "3_ann_7.wav").write_bytes(b"")
    sf.write(folder / "5_ann_9.wav", np.stack([tone(300), tone(300)], 1), 8000)  # stereo: converted
    first = tdata.load_dataset(folder, CFG)
    assert not first.report.from_cache
    second = tdata.load_dataset(folder, CFG)
    assert second.report.from_cache
    assert second.report == first.report  # loaded, converted, skipped and examples
    assert second.report.summary() == first.report.summary()
    assert "1 skipped: empty wav (e.g. 3_ann_7.wav)" in second.report.summary()
    np.testing.assert_allclose(second.features, first.features, atol=1e-3)  # float16 cache
