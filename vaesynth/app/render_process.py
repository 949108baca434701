"""Rendering in a child process, out of reach of the GUI's GIL (no Qt here).

A render is some 600 small torch and numpy calls. In the app's process every one of them needs the
GIL, which the GUI thread holds for whole paints (pyqtgraph paints in Python): with a busy Python
thread beside it, Griffin-Lim alone went from 3.6 ms to 1.2 s. :class:`RenderProcess` runs a
:class:`vaesynth.engine.synth.Synth` of its own in a child process (``spawn``) and renders
:class:`vaesynth.voices.keep.RenderRecipe`\\ s sent over a pipe; the engine's thread waits on the pipe
without the GIL. The child starts in the background: until it is ready (or if it fails or dies)
the engine renders in its own thread as before, so nothing depends on it.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

START_TIMEOUT_S = 120.0


def _serve(conn: Any, bundle_path: str) -> None:
    """The child: load the bundle, then answer ``("render", recipe)``, ``("warm", None)``, ``("quit", None)``."""
    try:
        from vaesynth.engine.synth import Synth

        synth = Synth.from_path(bundle_path)
    except Exception as e:  # noqa: BLE001 - the parent keeps rendering itself
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return  # the app is gone
        if kind == "quit":
            return
        try:
            out = payload.render(synth) if kind == "render" else synth.warm()
            conn.send(("ok", out))
        except ValueError as e:
            conn.send(("value_error", str(e)))
        except Exception as e:  # noqa: BLE001
            conn.send(("error", f"{type(e).__name__}: {e}"))


class RenderProcess:
    """A child process that renders recipes for one bundle. Use from one thread only."""

    def __init__(self, bundle_path: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, str(bundle_path)), daemon=True, name="vaesynth-render")
        self._proc.start()
        child.close()
        self._ready = False
        self.failed = ""  # why it is not used (empty while starting or ready)

    @property
    def ready(self) -> bool:
        """Whether the child has loaded its model (checked without waiting)."""
        if self._ready or self.failed:
            return self._ready
        try:
            if self._conn.poll(0):
                kind, payload = self._conn.recv()
                self._ready = kind == "ready"
                self.failed = "" if self._ready else str(payload)
            elif not self._proc.is_alive():
                self.failed = "the render process exited"
        except (EOFError, OSError) as e:
            self.failed = f"the render process is gone ({e})"
        return self._ready

    def _call(self, kind: str, payload: Any) -> Any:
        try:
            self._conn.send((kind, payload))
            status, out = self._conn.recv()
        except (EOFError, OSError) as e:
            self._ready, self.failed = False, f"the render process is gone ({e})"
            raise RuntimeError(self.failed) from e
        if status == "value_error":
            raise ValueError(out)
        if status != "ok":
            raise RuntimeError(out)
        return out

    def render(self, recipe: Any) -> Any:
        """``recipe.render(synth)`` in the child: the :class:`vaesynth.engine.synth.Render`."""
        return self._call("render", recipe)

    def warm(self) -> None:
        self._call("warm", None)

    def close(self) -> None:
        """End the child (at once if it does not answer)."""
        try:
            self._conn.send(("quit", None))
        except (EOFError, OSError):
            pass
        self._proc.join(1.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1.0)
        self._conn.close()
