"""Grab the window with the Mic tab's "Learn my voice" page: docs/screenshot-learn-voice-<W>x<H>.png.

    python scripts/screenshot_learn_voice.py [--out docs] [--speaker jackson]

Two takes of each digit are wanted; the FSDD test recordings ``{digit}_{speaker}_{0,1}.wav`` (found like
every FSDD lookup: $VAESYNTH_FSDD, ../shared/fsdd/recordings, the user cache) are handed to the page as
takes (what a microphone take becomes once recorded) until digit 5 is half done, and the window is saved
at 1280x800, 1024x640 and 1920x1080 (``screenshot-learn-voice-…``). Then the rest of the takes go in, **Learn**
starts the real ``python -m training adapt`` child, and once it is learning the window is saved again
(``screenshot-learn-voice-progress-1280x800.png``) and the run is cancelled: nothing is kept. Personal
models and takes go to a temporary folder ($VAESYNTH_USER_MODELS). Offscreen without a display.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot_voice_in import SIZES, wait_for  # noqa: E402

HALF_DONE = 11  # takes in for the first picture (at 2 per digit: "Say “5” (take 2 of 2)")


def grab(app, w, path: Path) -> None:  # noqa: ANN001
    for _ in range(20):  # let the layout and the queued status settle
        app.processEvents()
    w.repaint()
    app.processEvents()
    if not w.grab().save(str(path), "PNG"):
        sys.exit(f"could not write {path}")
    print(f"saved {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default: docs)")
    parser.add_argument("--size", action="append", help="only this size, e.g. 1920x1080 (repeatable; default: all)")
    parser.add_argument("--speaker", default="jackson", help="the FSDD speaker whose test recordings are the takes")
    args = parser.parse_args()
    import soundfile as sf
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme
    from vaesynth.sound.recordings import find_recordings

    fsdd = find_recordings()
    if fsdd is None:
        sys.exit("no FSDD recordings found ($VAESYNTH_FSDD)")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)  # type: ignore[arg-type]
    for i, (width, height) in enumerate((*SIZES, (1920, 1080))):
        if args.size and f"{width}x{height}" not in args.size:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["VAESYNTH_USER_MODELS"] = str(Path(tmp) / "models")
            w = MainWindow(file_settings(Path(tmp) / "settings.ini"), model="cvae", restore=False)
            w.resize(width, height)
            w.show()
            wait_for(app, w.model_ready)
            w.view.explore.setCurrentWidget(w.view.voice_in)
            w.view.voice_in.show_learn(True)
            learn, page = w.voice_in.learn, w.view.voice_in.learn
            page.name.setText("My voice")
            page.per_digit.setValue(2)
            page.start.click()
            prompts = learn.session.prompts if learn.session else []
            for n, (digit, k) in enumerate(prompts):
                if n == HALF_DONE:
                    grab(app, w, Path(args.out) / f"screenshot-learn-voice-{width}x{height}.png")
                    if i:
                        break
                for index in [(k - 1 + j) % 5 for j in range(5)]:  # the test recordings: index 0-4
                    wave, rate = sf.read(str(fsdd / f"{digit}_{args.speaker}_{index}.wav"), dtype="float32")
                    learn.use_take(wave, rate)
                    if wait_for(app, learn.take_checked)[0]:
                        break
                    print(f"{digit}_{args.speaker}_{index}.wav: {page.message_text()}")
                else:
                    sys.exit(f"no test recording of {digit} by {args.speaker} passes the check")
            else:
                page.learn.click()
                while wait_for(app, learn.adapt.progress, 120_000)[0] < 0.3:
                    pass
                grab(app, w, Path(args.out) / f"screenshot-learn-voice-progress-{width}x{height}.png")
                page.cancel.click()
                wait_for(app, learn.learn_cancelled)
            w.shutdown()
            w.deleteLater()
    return 0


if __name__ == "__main__":
    sys.exit(main())
