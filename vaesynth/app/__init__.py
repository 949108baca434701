"""The desktop app (PySide6): keypad, latent knobs, live spectrogram, playback.

``run_app()`` is the entry point (``python main.py``, ``vaesynth``). Importing this package is
cheap on purpose: Qt widgets load inside :func:`run_app`, and torch/PortAudio load later in
worker threads, after the window is on screen.
"""

from __future__ import annotations

import os
import sys

__all__ = ["run_app"]

SCREENSHOT_DIGIT = "7"
SCREENSHOT_TIMEOUT_S = 120


def run_app(model: str | None = None, screenshot: str | None = None, size: tuple[int, int] | None = None) -> int:
    """Open the vaesynth window and run the Qt event loop; returns the exit status.

    ``model``: a shipped bundle name (``"cvae"``, ``"cnn"``, ``"mlp"``) or a bundle folder, instead
    of the remembered one. ``screenshot``: load the model, render one digit, save the window as a
    PNG at this path and exit (no sound, no settings read or written; works without a display).
    ``size``: the window size in pixels (default: the remembered one, or 1280 x 800).
    """
    if screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import signal

    from PySide6.QtWidgets import QApplication

    from .qtcompat import install_refcount_guard
    from .settings import APPLICATION, ORGANIZATION, default_settings, file_settings
    from .theme import app_icon, apply_theme

    install_refcount_guard()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("vaesynth")
    apply_theme(app)  # type: ignore[arg-type]
    app.setWindowIcon(app_icon())
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C in the terminal quits

    from .main_window import MainWindow

    if screenshot:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="vaesynth-shot-")
        window = MainWindow(file_settings(os.path.join(tmp.name, "settings.ini")), model=model, restore=False)
        outcome = _arm_screenshot(app, window, screenshot)
        if size:
            window.resize(*size)
        window.show()
        app.exec()
        window.shutdown()
        tmp.cleanup()
        return outcome["status"]

    window = MainWindow(default_settings(), model=model)
    if size:
        window.resize(*size)
    window.show()
    status = app.exec()
    window.shutdown()
    return status


def _arm_screenshot(app, window, path: str) -> dict:  # noqa: ANN001 - Qt objects, imported lazily
    """Wire ``window`` to render one digit once its model is ready, save itself to ``path``, quit."""
    from PySide6.QtCore import QTimer

    outcome = {"status": 1}

    def fail(message: str) -> None:
        print(f"vaesynth: screenshot failed: {message}", file=sys.stderr)
        outcome["status"] = 1
        app.quit()

    def on_ready(info) -> None:  # noqa: ANN001
        voice = info.speakers[0] if info.speakers else None
        window.knob_panel.set_voice(voice)  # a preset if the model has one, else the typical voice
        window.hold_voice.setChecked(True)
        window.press_digit(SCREENSHOT_DIGIT, play=False)

    def on_shown(_result) -> None:  # noqa: ANN001
        QTimer.singleShot(400, save)

    def save() -> None:
        window.repaint()
        app.processEvents()
        if window.grab().save(path, "PNG"):
            print(f"vaesynth: saved the window to {path}")
            outcome["status"] = 0
            app.quit()
        else:
            fail(f"could not write {path}")

    window.model_ready.connect(on_ready)
    window.render_shown.connect(on_shown)
    window.render_error.connect(lambda m: fail(f"render failed: {m}"))
    window.model_error.connect(fail)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, lambda: fail("timed out waiting for the model"))
    return outcome
