""" "Learn my voice" in the window: the Mic tab's guided takes, the adaptation in a child process,
personal models renamed and deleted (pytest-qt, offscreen, real components).

The window runs on a copy of the shipped conditional VAE (it recognises digits; test_app_voice_in's
models). Takes are real FSDD test recordings of one speaker (index 0-4, never trained on), chosen
per digit where the recogniser hears the file's digit with a clear margin: through a virtual
microphone (the PulseAudio null sink's monitor as the default source, fed with ``paplay``) in the
guided flow, and handed to the controller as recorded samples (:meth:`LearnVoiceController.use_take`)
where the test is about what comes after the takes. **Learn** runs the real
``python -m training adapt`` at a few training steps. Personal models go to each test's own folder
(``$VAESYNTH_USER_MODELS``).
"""

# ruff: noqa: F811  (the fixtures imported from test_app / test_app_voice_in are used by name as test parameters)
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QInputDialog, QMessageBox  # noqa: E402
from test_app import WAIT_MS, make_window, press, settings_file  # noqa: E402, F401
from test_app_voice_in import FSDD, models_root, ready_panel, recording, requires_fsdd  # noqa: E402, F401

from vaesynth.app.adapt_process import KILL_AFTER_MS  # noqa: E402
from vaesynth.model.catalog import user_models_dir  # noqa: E402

SPEAKER = "jackson"
# per digit, the test recording of SPEAKER that the recogniser hears best (margin 0.14-1.23)
BEST = {0: 3, 1: 1, 2: 4, 3: 4, 4: 2, 5: 1, 6: 2, 7: 3, 8: 4, 9: 3}
LEARN_MS = 240_000  # the child imports torch and Lightning, then trains a few steps (on 2 busy cores)
STEPS = 2  # training steps in the tests: the run, not the likeness, is under test


def take_file(digit: int, index: int | None = None) -> Path:
    return recording(f"{digit}_{SPEAKER}_{BEST[digit] if index is None else index}")


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own personal-models folder (the takes go beside it)."""
    monkeypatch.setenv("VAESYNTH_USER_MODELS", str(tmp_path / "user" / "models"))
    return user_models_dir()


@pytest.fixture(scope="module")
def learned_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A personal model "Jackson" made once by the real command line (for the rename and delete test)."""
    if FSDD is None:
        pytest.skip("needs the FSDD recordings")
    root = tmp_path_factory.mktemp("learned")
    takes = root / "takes"
    takes.mkdir()
    for d in BEST:
        shutil.copy(take_file(d), takes / f"{d}_1.wav")
    env = {**os.environ, "VAESYNTH_USER_MODELS": str(root / "models")}
    cmd = [sys.executable, "-m", "training", "adapt", str(takes), "--name", "Jackson", "--progress"]
    out = subprocess.run([*cmd, "--steps", str(STEPS)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"done {root / 'models' / 'Jackson'}"
    return root / "models" / "Jackson"


def open_learn(qtbot, w):  # noqa: ANN001
    """The Mic tab turned to its "Learn my voice" page; returns (controller, page)."""
    mic = ready_panel(qtbot, w)
    qtbot.mouseClick(mic.learn_button, Qt.MouseButton.LeftButton)
    page = mic.learn
    assert mic.pages.currentWidget() is page and page.in_setup()
    return w.voice_in.learn, page


def start(qtbot, page, name: str, per_digit: int) -> None:  # noqa: ANN001
    """Type ``name``, choose ``per_digit`` takes, press Enter in the name field (the keyboard way to Start)."""
    page.name.clear()
    QTest.keyClicks(page.name, name)
    page.per_digit.setValue(per_digit)
    QTest.keyClick(page.name, Qt.Key.Key_Return)


def hand_takes(qtbot, learn) -> None:  # noqa: ANN001
    """Every take asked for, from the chosen recordings (as a microphone take arrives: samples, rate)."""
    while learn.session is not None and learn.session.current() is not None:
        digit, _k = learn.session.current()
        wave, rate = sf.read(str(take_file(digit)), dtype="float32")
        with qtbot.waitSignal(learn.take_checked, timeout=WAIT_MS) as blocker:
            learn.use_take(wave, rate)
        assert blocker.args[0], blocker.args[1]


def speak_take(qtbot, pulse, learn, button, path: Path) -> tuple[bool, str]:  # noqa: ANN001
    """Click ``button`` (Record or Redo) and say ``path`` into the virtual microphone once it listens;
    returns ``take_checked``'s (kept, sentence). A stalled input (seen now and then on a loaded machine,
    also without the app) is tried once more."""
    for attempt in range(2):
        listening = threading.Event()

        def heard(_db: float, ev: threading.Event = listening) -> None:
            ev.set()

        def speak(ev: threading.Event = listening) -> None:
            ev.wait(5)
            time.sleep(0.2)
            subprocess.run(["paplay", "--device", pulse.sink_name, str(path)], check=True, timeout=10)

        learn.recorder.level.connect(heard)
        player = threading.Thread(target=speak)
        try:
            with qtbot.waitSignal(learn.take_checked, timeout=WAIT_MS) as blocker:
                qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
                player.start()
            player.join(10)
        finally:
            learn.recorder.level.disconnect(heard)
        kept, text = blocker.args
        if not kept and "stopped delivering sound" in text and attempt == 0:
            print(f"virtual microphone stalled, recording again: {text}")
            continue
        return kept, text
    raise AssertionError("unreachable")


def picker_paths(w) -> list[str]:  # noqa: ANN001
    return [e.path for e in w.model_picker.entries]


# --- the guided flow ----------------------------------------------------------------------------------


@requires_fsdd
def test_learn_my_voice_from_the_microphone_makes_selects_and_speaks_a_personal_model(
    pulse, qtbot, make_window, user_models
) -> None:  # noqa: ANN001
    """One take per digit through the virtual microphone; a take of the wrong digit is refused with
    "Heard …" and Redo fixes it; the takes are 16-bit WAVs; Learn runs the real adaptation with a
    progress bar; then the new model is listed, selected and in use, and a key press speaks with it."""
    before = subprocess.run(["pactl", "get-default-source"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["pactl", "set-default-source", pulse.monitor_name], check=True)
    try:
        w = make_window()
        learn, page = open_learn(qtbot, w)
        qtbot.waitUntil(lambda: w.view.voice_in.has_input(), timeout=WAIT_MS)
        start(qtbot, page, "Jackson", 1)
        assert learn.session is not None and not page.in_setup(), page.message_text()
        folder = user_models.parent / "takes" / "Jackson"
        assert learn.session.folder == folder and folder.is_dir() and not any(folder.iterdir())
        assert page.prompt.text() == "Say “0”  (take 1 of 1)"
        assert page.record.isEnabled() and not page.redo.isEnabled() and not page.learn.isEnabled()
        levels: list[float] = []
        learn.recorder.level.connect(levels.append)
        for digit in range(10):
            if digit == 4:  # "6" said where "4" is asked for: refused, nothing kept, Redo offered
                kept, text = speak_take(qtbot, pulse, learn, page.record, take_file(6))
                assert not kept and "Heard “6”, not “4”" in text and "Redo" in text, text
                assert page.message_text() == text and "\n" not in text
                assert text in w.statusBar().currentMessage()
                assert not (folder / "4_1.wav").exists() and page.prompt.text() == "Say “4”  (take 1 of 1)"
                assert page.redo.isEnabled()
                kept, text = speak_take(qtbot, pulse, learn, page.redo, take_file(4))
            else:
                kept, text = speak_take(qtbot, pulse, learn, page.record, take_file(digit))
            assert kept, (digit, text)
            assert f"Heard “{digit}”" in text and page.thumbnail.has_take()
            assert page.strip.counts[digit] == 1
        assert levels and max(levels) > -40, f"the meter saw no sound: {levels[-5:]}"
    finally:
        if before:
            subprocess.run(["pactl", "set-default-source", before], check=False)
    # every take is in: 16-bit WAVs {digit}_1.wav in the fresh takes folder, and Learn is offered
    assert sorted(p.name for p in folder.iterdir()) == [f"{d}_1.wav" for d in range(10)]
    assert {sf.info(str(p)).subtype for p in folder.iterdir()} == {"PCM_16"}
    assert page.prompt.text() == "All takes are in: press Learn" and page.learn.isEnabled()
    assert not page.record.isEnabled()
    # Learn: the real adaptation in a child process, with progress
    learn.steps = STEPS
    progress: list[tuple[float, str]] = []
    learn.adapt.progress.connect(lambda f, t: progress.append((f, t)))
    blocker = qtbot.waitSignal(learn.learned, timeout=LEARN_MS)
    with blocker:
        qtbot.mouseClick(page.learn, Qt.MouseButton.LeftButton)
        assert learn.learning and not page.learn.isEnabled() and page.cancel.isEnabled()
        assert page.prompt.text() == "Learning “Jackson”…"
        qtbot.waitUntil(lambda: bool(progress), timeout=LEARN_MS)
        assert page.progress.isEnabled()  # (the GUI thread was free to show it)
    new = user_models / "Jackson"
    fractions = [f for f, _t in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0), progress
    assert blocker.args == [str(new)]
    # selected and in use, listed after the shipped model, named in the page and the status bar
    assert w.model_info.path == str(new) and w.model_info.display_name == "Jackson"
    assert w.model_picker.currentData() == str(new) and picker_paths(w)[-1] == str(new)
    assert page.in_setup() and page.personal_names() == ["Jackson"]
    assert page.message_text().startswith("Learned “Jackson”: it is now the model in use")
    assert "Learned “Jackson”" in w.statusBar().currentMessage() or "Jackson ready" in w.statusBar().currentMessage()
    # a key press speaks with it (the focus is not left in a text field: the digit keys are the keypad's)
    shown: list = []
    errors: list[str] = []
    w.render_shown.connect(shown.append)
    w.render_error.connect(errors.append)
    QTest.keyClick(w, Qt.Key.Key_5)
    qtbot.waitUntil(lambda: bool(shown or errors), timeout=WAIT_MS)
    assert not errors, f"the new model cannot speak: {errors}"
    result = shown[0]
    assert result.digits == "5" and result.request.generation == w.model_info.generation
    assert "Jackson" in result.recipe.model, result.recipe.model


@requires_fsdd
def test_cancel_while_learning_makes_no_model(qtbot, make_window, user_models) -> None:  # noqa: ANN001
    """Cancel while the child trains: it is stopped, the page says so, no model folder is left and
    the model list does not show one; the takes stay, so Learn can be pressed again."""
    w = make_window()
    learn, page = open_learn(qtbot, w)
    start(qtbot, page, "Not kept", 1)
    hand_takes(qtbot, learn)
    learn.steps = 5000  # far more than the test waits for
    learning = []
    learn.adapt.progress.connect(lambda _f, t: learning.append(t) if t.startswith("learning") else None)
    qtbot.mouseClick(page.learn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(learning), timeout=LEARN_MS)  # in the training loop itself
    listed_before = picker_paths(w)
    t0 = time.monotonic()
    with qtbot.waitSignal(learn.learn_cancelled, timeout=KILL_AFTER_MS + 10_000):
        QTest.keyClick(page.cancel, Qt.Key.Key_Escape)  # Escape is Cancel
    stopped_s = time.monotonic() - t0
    assert not learn.learning and stopped_s < KILL_AFTER_MS / 1000 + 5, stopped_s
    assert page.message_text() == "Cancelled: no model was made."
    assert "Cancelled: no model was made." in w.statusBar().currentMessage()
    assert not (user_models / "Not kept").exists()
    leftovers = sorted(p.name for p in user_models.iterdir()) if user_models.exists() else []
    assert not [n for n in leftovers if not n.startswith(".")], leftovers
    print(f"cancelled in {stopped_s:.2f} s; left in the models folder: {leftovers}")
    qtbot.wait(500)  # the list read again after the cancel
    assert not [p for p in picker_paths(w) if "Not kept" in p] and picker_paths(w) == listed_before
    assert page.personal_names() == []
    assert page.learn.isEnabled() and page.progress_fraction() == 0.0  # the takes are still there: try again
    assert len(list((user_models.parent / "takes" / "Not kept").glob("*.wav"))) == 10


@requires_fsdd
def test_a_failed_run_shows_its_one_line_and_makes_no_model(qtbot, make_window, user_models) -> None:  # noqa: ANN001
    """A take spoilt after it was kept (silence written over it): the command refuses the folder; its
    one line is the page's message, and no model is made."""
    w = make_window()
    learn, page = open_learn(qtbot, w)
    start(qtbot, page, "Spoilt", 1)
    hand_takes(qtbot, learn)
    sf.write(str(learn.session.folder / "3_1.wav"), np.zeros(8000, np.float32), 8000, subtype="PCM_16")
    learn.steps = STEPS
    listed_before = picker_paths(w)
    with qtbot.waitSignal(learn.learn_failed, timeout=LEARN_MS) as blocker:
        qtbot.mouseClick(page.learn, Qt.MouseButton.LeftButton)
    text = page.message_text()
    print(text)
    assert text.startswith("Learning failed: 3_1.wav: the take is too quiet"), text
    assert blocker.args[0] in text and "\n" not in text and "Traceback" not in text and "vaesynth-train" not in text
    assert text in w.statusBar().currentMessage()
    assert not (user_models / "Spoilt").exists()
    assert picker_paths(w) == listed_before and w.model_info.display_name != "Spoilt"
    assert page.learn.isEnabled() and not learn.learning


# --- personal models ---------------------------------------------------------------------------------


@requires_fsdd
def test_rename_and_delete_a_personal_model(qtbot, make_window, user_models, learned_model, monkeypatch) -> None:  # noqa: ANN001
    """A shipped model's name is refused in one sentence and nothing changes; a good name renames the
    folder and the list; deleting the model in use switches to the default model first."""
    user_models.mkdir(parents=True)
    shutil.copytree(learned_model, user_models / "Jackson")
    w = make_window()
    learn, page = open_learn(qtbot, w)
    qtbot.waitUntil(lambda: page.personal_names() == ["Jackson"], timeout=WAIT_MS)
    assert str(user_models / "Jackson") in picker_paths(w)
    page.choose_personal("Jackson")
    assert page.rename.isEnabled() and page.delete.isEnabled()
    # refused: a shipped model's name
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("cvae", True))
    qtbot.mouseClick(page.rename, Qt.MouseButton.LeftButton)
    text = page.message_text()
    assert "shipped model" in text and "\n" not in text and text.endswith("."), text
    assert text in w.statusBar().currentMessage()
    assert (user_models / "Jackson").is_dir() and not (user_models / "cvae").exists()
    assert page.personal_names() == ["Jackson"]
    # renamed, while in use: loaded again from its new folder
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS):
        w.load_model(user_models / "Jackson")
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Jackson two", True))
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(page.rename, Qt.MouseButton.LeftButton)
    renamed = user_models / "Jackson two"
    assert blocker.args[0].path == str(renamed) and blocker.args[0].display_name == "Jackson two"
    assert renamed.is_dir() and not (user_models / "Jackson").exists()
    assert page.personal_names() == ["Jackson two"] and page.message_text() == "Renamed “Jackson” to “Jackson two”."
    assert str(renamed) in picker_paths(w) and str(user_models / "Jackson") not in picker_paths(w)
    assert w.model_picker.currentData() == str(renamed)
    # deleted while in use: the default model first, then the folder goes and the list forgets it
    page.choose_personal("Jackson two")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(page.delete, Qt.MouseButton.LeftButton)
    assert blocker.args[0].name == "cvae"
    qtbot.waitUntil(lambda: page.personal_names() == [], timeout=WAIT_MS)
    assert not renamed.exists() and str(renamed) not in picker_paths(w)
    assert page.message_text() == "Deleted “Jackson two”." and w.model_info.name == "cvae"
    assert not page.rename.isEnabled() and not page.delete.isEnabled()
    assert press(qtbot, w, "3").digits == "3"  # and the window speaks on


def test_a_bad_name_is_refused_before_any_take(qtbot, make_window, user_models) -> None:  # noqa: ANN001
    w = make_window()
    learn, page = open_learn(qtbot, w)
    for name, expected in (("cnn", "shipped model"), ("", "cannot name a model"), ("../up", "cannot name a model")):
        start(qtbot, page, name, 2)
        assert learn.session is None and page.in_setup()
        assert expected in page.message_text() and "\n" not in page.message_text(), page.message_text()
    assert not (user_models.parent / "takes").exists() or not any((user_models.parent / "takes").iterdir())
    # Escape in the set-up goes back to the Mic page
    QTest.keyClick(page.name, Qt.Key.Key_Escape)
    assert w.view.voice_in.pages.currentWidget() is w.view.voice_in.take_page


# --- the widget-free parts ---------------------------------------------------------------------------


def fake_child(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The adaptation's command replaced by ``python -c code`` (the protocol, not the training)."""
    import vaesynth.app.adapt_process as ap

    monkeypatch.setattr(ap, "adapt_arguments", lambda *a, **k: ["-c", code])


def run_child(qtbot, monkeypatch, code: str) -> tuple[str, object, list]:  # noqa: ANN001
    from vaesynth.app.adapt_process import AdaptProcess

    fake_child(monkeypatch, code)
    proc, seen, progress = AdaptProcess(), [], []
    proc.progress.connect(lambda f, t: progress.append((f, t)))
    proc.succeeded.connect(lambda p: seen.append(("succeeded", p)))
    proc.failed.connect(lambda t: seen.append(("failed", t)))
    proc.cancelled.connect(lambda p: seen.append(("cancelled", p)))
    proc.start(Path("takes"), "name")
    run_child.last = proc  # (for a test that reads what else it kept)
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    assert not proc.running
    return seen[0][0], seen[0][1], progress


def test_the_childs_lines_are_read_as_they_come(qtbot, monkeypatch) -> None:  # noqa: ANN001
    code = (
        "import sys, time\n"
        "print('progress 0.25 checking 0_1.wav', flush=True)\n"
        "print('some other line', flush=True); print('progress oops', flush=True)\n"
        "sys.stdout.write('progress 0.5 lear'); sys.stdout.flush(); time.sleep(0.2)\n"
        "print('ning: step 1 of 2', flush=True)\n"
        "print('warning the takes may be more than one speaker', flush=True)\n"
        "sys.stdout.write('done /x/My voice')\n"  # the last line without its newline
    )
    kind, arg, progress = run_child(qtbot, monkeypatch, code)
    assert (kind, arg) == ("succeeded", "/x/My voice")
    assert progress == [(0.25, "checking 0_1.wav"), (0.5, "learning: step 1 of 2")]
    assert run_child.last.warnings == ["The takes may be more than one speaker."]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "import sys; print('UserWarning: noise', file=sys.stderr); "
            "print('vaesynth-train: 3_1.wav: the take is too quiet', file=sys.stderr); sys.exit(2)",
            "3_1.wav: the take is too quiet.",
        ),
        ("import sys; sys.exit(3)", "The learning stopped (exit status 3)."),
        ("import no_such_module_here", "Learning needs the training extras (pip install 'vaesynth[train]'): "),
        ("import sys; print('done /x/y'); sys.exit(1)", "The learning stopped (exit status 1)."),  # done needs 0
        ("print('progress 1 x')", "The learning stopped (exit status 0)."),  # and exit status 0 needs done
    ],
)
def test_a_failing_child_is_one_sentence(qtbot, monkeypatch, code: str, expected: str) -> None:  # noqa: ANN001
    kind, text, _ = run_child(qtbot, monkeypatch, code)
    assert kind == "failed" and str(text).startswith(expected) and "\n" not in str(text), text


def test_cancel_terminates_then_kills(qtbot, monkeypatch) -> None:  # noqa: ANN001
    """A child that ignores SIGTERM is killed after KILL_AFTER_MS; one that finished anyway is named."""
    from vaesynth.app.adapt_process import AdaptProcess

    fake_child(monkeypatch, "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                            "print('progress 0.1 x', flush=True); time.sleep(60)")  # fmt: skip
    proc = AdaptProcess()
    with qtbot.waitSignal(proc.progress, timeout=WAIT_MS):
        proc.start(Path("takes"), "name")
    t0 = time.monotonic()
    with qtbot.waitSignal(proc.cancelled, timeout=KILL_AFTER_MS + 10_000) as blocker:
        proc.cancel()
    assert blocker.args == [""] and KILL_AFTER_MS / 1000 - 0.1 <= time.monotonic() - t0 < KILL_AFTER_MS / 1000 + 5


def test_the_session_asks_for_each_take_and_goes_back(tmp_path: Path) -> None:
    from vaesynth.app.learn_session import LearnSession, fresh_folder

    s = LearnSession("me", 2, tmp_path / "t")
    assert len(s.prompts) == 20 and s.current() == (0, 1) and not s.complete
    s.keep(s.file_for(0, 1))
    s.keep(s.file_for(0, 2))
    assert s.current() == (1, 1) and s.last == 1 and s.counts()[0] == 2
    s.back()
    assert s.current() == (0, 2)
    s.keep(s.file_for(0, 2))  # taken again: on to the first take not in
    assert s.current() == (1, 1) and len(s.takes) == 2
    for _ in range(18):
        s.keep(s.file_for(*s.current()))
    assert s.complete and s.current() is None and s.counts() == [2] * 10
    # the takes folder is made new; a link there is removed, never followed
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    link = tmp_path / "takes" / "me"
    link.parent.mkdir()
    link.symlink_to(target)
    assert fresh_folder(link).is_dir() and not link.is_symlink() and not any(link.iterdir())
    assert (target / "keep.txt").read_text() == "mine"
    (link / "0_1.wav").write_bytes(b"x")
    assert not any(fresh_folder(link).iterdir())
