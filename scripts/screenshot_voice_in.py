"""Grab the window with the Voice in tab after a take: docs/screenshot-voice-in-<W>x<H>.png.

    python scripts/screenshot_voice_in.py [TAKE.wav] [--out docs]
    python scripts/screenshot_voice_in.py --shift 8      # the take moved up 8 semitones (pitch and formants)

The take (default: the FSDD test recording 6_jackson_1.wav, found like every FSDD lookup:
$VAESYNTH_FSDD, ../shared/fsdd/recordings, the user cache) is opened as the Open WAV… button
would; once its digit has been said in its voice, the window is saved at 1280x800 and 1024x640.
With ``--shift S`` the take is first moved S semitones in pitch and formants together (a higher,
shorter voice: bench/voice_sets.py's method), the files are named ``screenshot-voice-in-high-<W>x<H>.png``,
and the Performance box (Pitch and Formants as the take set them) is saved as
``screenshot-performance-<W>x<H>.png``. Offscreen without a display; the sound goes to the default
output (none is fine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SIZES = ((1280, 800), (1024, 640))


def wait_for(app, signal, timeout_ms: int = 60_000) -> tuple:  # noqa: ANN001
    """Run the event loop until ``signal`` fires; its arguments."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, got = QEventLoop(), []
    signal.connect(lambda *a: (got.append(a), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if not got:
        sys.exit(f"timed out waiting for {signal}")
    return got[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("take", nargs="?", help="a WAV of one spoken digit")
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default: docs)")
    parser.add_argument("--shift", type=float, default=None, help="move the take this many semitones first")
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.messages import Origin
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme
    from vaesynth.sound.recordings import find_recordings

    fsdd = find_recordings()
    take = args.take or (str(fsdd / "6_jackson_1.wav") if fsdd else None)
    if take is None:
        sys.exit("no take given and no FSDD recordings found ($VAESYNTH_FSDD)")
    tmp_take = None
    if args.shift is not None:
        import soundfile as sf

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
        from voice_sets import RATE, shift

        wave, rate = sf.read(take, dtype="float32")
        tmp_take = tempfile.NamedTemporaryFile(suffix=f"-{Path(take).stem}-up{args.shift:g}.wav", delete=False)
        sf.write(tmp_take.name, shift(wave, rate, args.shift), RATE, subtype="FLOAT")
        take = tmp_take.name
    kind = "voice-in-high" if args.shift is not None else "voice-in"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)  # type: ignore[arg-type]
    for width, height in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            w = MainWindow(file_settings(Path(tmp) / "settings.ini"), model="cvae", restore=False)
            w.resize(width, height)
            w.show()
            wait_for(app, w.model_ready)
            w.view.explore.setCurrentWidget(w.view.voice_in)
            w.voice_in.open_file(take)
            while wait_for(app, w.render_shown)[0].request.origin is not Origin.VOICE_IN:
                pass
            for _ in range(20):  # let the layout and the queued status settle
                app.processEvents()
            path = Path(args.out) / f"screenshot-{kind}-{width}x{height}.png"
            w.repaint()
            app.processEvents()
            if not w.grab().save(str(path), "PNG"):
                sys.exit(f"could not write {path}")
            print(f"saved {path}")
            if args.shift is not None:
                box = Path(args.out) / f"screenshot-performance-{width}x{height}.png"
                if not w.performance.grab().save(str(box), "PNG"):
                    sys.exit(f"could not write {box}")
                print(f"saved {box}")
            w.shutdown()
            w.deleteLater()
    if tmp_take is not None:
        Path(tmp_take.name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
