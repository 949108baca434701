"""Grab the window with the Voice in tab after a take: docs/screenshot-voice-in-<W>x<H>.png.

    python scripts/screenshot_voice_in.py [TAKE.wav] [--out docs]

The take (default: the FSDD test recording 6_jackson_1.wav, found like every FSDD lookup:
$VAESYNTH_FSDD, ../shared/fsdd/recordings, the user cache) is opened as the Open WAV… button
would; once its digit has been said in its voice, the window is saved at 1280x800 and 1024x640.
Offscreen without a display; the sound goes to the default output (none is fine).
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
            path = Path(args.out) / f"screenshot-voice-in-{width}x{height}.png"
            w.repaint()
            app.processEvents()
            if not w.grab().save(str(path), "PNG"):
                sys.exit(f"could not write {path}")
            print(f"saved {path}")
            w.shutdown()
            w.deleteLater()
    return 0


if __name__ == "__main__":
    sys.exit(main())
