"""training.transfer: the voice-transfer measurement, run end to end on a small real FSDD subset."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from training import transfer

ROOT = Path(__file__).resolve().parents[1]


def _fsdd() -> Path | None:
    for cand in (os.environ.get("VAESYNTH_FSDD"), str(ROOT.parent / "shared" / "fsdd" / "recordings")):
        if cand:
            p = Path(cand)
            p = p / "recordings" if (p / "recordings").is_dir() else p
            if (p / "0_george_0.wav").is_file():
                return p
    return None


FSDD = _fsdd()


@pytest.fixture
def small_fsdd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two speakers, every digit: takes 0-1 (test split) and 5-9 (training split); a private cache."""
    if FSDD is None:
        pytest.skip("needs the FSDD recordings ($VAESYNTH_FSDD)")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "fsdd"
    folder.mkdir()
    for speaker in ("jackson", "theo"):
        for d in range(10):
            for i in (0, 1, 5, 6, 7, 8, 9):
                shutil.copy(FSDD / f"{d}_{speaker}_{i}.wav", folder)
    return folder


def test_transfer_runs_end_to_end_and_reports_its_figures(small_fsdd: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "t.json"
    assert transfer.main(["--data", str(small_fsdd), "--json", str(out), "--limit", "4"]) == 0
    res = json.loads(out.read_text())
    assert res["n_sources"] == 4 and res["chance"] == 0.5 and len(res["rows"]) == 4
    for row in res["rows"]:
        assert len(set(row["others"])) == transfer.N_OTHER and row["digit"] not in row["others"]
        assert len(row["transfer"]) == len(row["typical"]) == len(row["preset"]) == transfer.N_OTHER
        assert set(row["transfer"]) <= {"jackson", "theo"}
    for key in ("transfer_rate", "typical_voice_rate", "preset_rate", "recognition_accuracy", "probe_on_real_test"):
        assert 0.0 <= res[key] <= 1.0, key
    # the first 4 test recordings are both speakers' 0s: the probe knows real speakers
    assert res["probe_on_real_test"] == 1.0
    assert res["recognition_accuracy"] >= 0.75
    text = capsys.readouterr().out
    assert "probe names the source speaker" in text and "digit recognition" in text


def test_summary_counts_hits_per_rendered_digit() -> None:
    rows = [
        {"digit": 1, "speaker": "a", "recognised": 1, "confident": True,
         "transfer": ["a", "a", "b"], "typical": ["b", "b", "b"], "preset": ["a", "a", "a"]},
        {"digit": 2, "speaker": "b", "recognised": 3, "confident": False,
         "transfer": ["b", "a", "a"], "typical": ["b", "b", "b"], "preset": ["b", "b", "a"]},
    ]  # fmt: skip
    res = transfer.summarise(rows, ["a", "b"], 1.0, "m")
    assert res["transfer_rate"] == pytest.approx(3 / 6)
    assert res["typical_voice_rate"] == pytest.approx(3 / 6)
    assert res["preset_rate"] == pytest.approx(5 / 6)
    assert res["transfer_rate_by_speaker"] == {"a": pytest.approx(2 / 3), "b": pytest.approx(1 / 3)}
    assert res["recognition_accuracy"] == 0.5 and res["recognition_accepted"] == 0.5
    assert res["recognition_accuracy_accepted"] == 1.0


def test_missing_data_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert transfer.main(["--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("transfer: error:")
