"""Grab the window with the voice map and the morph pad: docs/screenshot-{map,pad}-<W>x<H>.png.

    python scripts/screenshot_explore.py [--out docs] [--model cvae]

Map: the dot of ``7_jackson_20.wav`` is clicked (the recording, then the model's rendering of its
latent: A/B), saved at 1280x800, 1024x640 and 1920x1080. Pad: george, jackson, lucas and theo in
the corners (the model's first four speakers), a click at (0.3, 0.7), saved at 1280x800 and
1024x640. Offscreen without a display; the sound goes to the default output (none is fine); the
map's A/B needs the FSDD recordings ($VAESYNTH_FSDD, ../shared/fsdd/recordings, the user cache).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot_voice_in import wait_for  # noqa: E402

MAP_SIZES = ((1280, 800), (1024, 640), (1920, 1080))
PAD_SIZES = ((1280, 800), (1024, 640))
DOT_FILE = "7_jackson_20.wav"
PUCK = (0.3, 0.7)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default: docs)")
    parser.add_argument("--model", default="cvae")
    args = parser.parse_args()
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.messages import Origin
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)  # type: ignore[arg-type]

    def shot(w, name: str) -> None:  # noqa: ANN001
        for _ in range(20):  # let the layout and the queued status settle
            app.processEvents()
        w.repaint()
        app.processEvents()
        path = Path(args.out) / name
        if not w.grab().save(str(path), "PNG"):
            sys.exit(f"could not write {path}")
        print(f"saved {path}")

    def until(w, origin) -> None:  # noqa: ANN001
        while wait_for(app, w.render_shown)[0].request.origin is not origin:
            pass

    suffix = "" if args.model == "cvae" else f"-{args.model}"
    for kind, sizes in (("map", MAP_SIZES), ("pad", PAD_SIZES)):
        for width, height in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                w = MainWindow(file_settings(Path(tmp) / "settings.ini"), model=args.model, restore=False)
                w.resize(width, height)
                w.show()
                wait_for(app, w.model_ready)
                if kind == "map":
                    view = w.view.voice_map
                    w.view.explore.setCurrentWidget(view)
                    files = list(w.model_info.voice.voice_map.files)
                    view.dot_clicked.emit(files.index(DOT_FILE) if DOT_FILE in files else 0)
                    until(w, Origin.MAP_DOT)
                else:
                    morph = w.view.morph
                    w.view.explore.setCurrentWidget(morph)
                    for k, name in enumerate(w.model_info.speakers[:4]):
                        morph.set_corner(k, name)
                    app.processEvents()
                    pos = morph.pad.widget_pos(*PUCK)
                    QTest.mousePress(morph.pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
                    QTest.mouseRelease(morph.pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
                    until(w, Origin.PAD)
                shot(w, f"screenshot-{kind}{suffix}-{width}x{height}.png")
                w.shutdown()
                w.deleteLater()
    return 0


if __name__ == "__main__":
    sys.exit(main())
