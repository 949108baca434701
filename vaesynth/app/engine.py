"""Model listing, loading and rendering off the GUI thread (:class:`Engine`).

``Engine`` is a ``QObject`` that lives in its own ``QThread``; the window talks to it with queued
signals and gets plain, immutable results back (:mod:`vaesynth.app.messages`). It imports
``vaesynth.engine.synth`` (and so torch) lazily, inside its thread, so that importing
:mod:`vaesynth.app` stays light and the window shows before any of that loads. Every failure
comes back as a plain-words message; nothing here raises into Qt.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from .messages import KnobMode, ModelEntry, ModelInfo, Origin, RenderRequest, RenderResult, TakeRequest, TakeResult
from .render_ahead import AHEAD_IDLE_S, AHEAD_ORIGINS, RenderAhead
from .render_process import RenderProcess
from .voice_knobs import VoiceKnobs

#: edits that re-render while the voice moves (a knob turn, a drag on the map or the pad, the pitch
#: and speed sliders): rendered with vaesynth.engine.synth.LIVE_GL_ITERS, and the recipe says so
LIVE_ORIGINS = frozenset({Origin.KNOB, Origin.MAP, Origin.PAD, Origin.PERFORMANCE})
KEEP_WARM_S = 3.0  # after the last request, the engine keeps the model warm this long ...
WARM_EVERY_S = 0.25  # ... with a small render this often (5-8 ms: 2-3 % of one core)


def message(e: BaseException) -> str:
    """An exception as one plain sentence start (capitalised, never empty)."""
    text = str(e).strip() or type(e).__name__
    return text[0].upper() + text[1:]


class Engine(QObject):
    """Loads models and renders digits in a worker thread. Create it, then :meth:`start`."""

    models_listed = Signal(list)  # list[ModelEntry]
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str, str, int, object)  # path, message, generation, ModelInfo still loaded (or None)
    rendered = Signal(object)  # RenderResult
    render_failed = Signal(object, str)  # RenderRequest, message
    take_analysed = Signal(object)  # TakeResult
    take_failed = Signal(object, str)  # TakeRequest, message (one sentence)

    _do_list = Signal(object)
    _do_load = Signal(str, int)
    _do_render = Signal(object)
    _do_aim = Signal(object)
    _do_halt = Signal()
    _do_take = Signal(object)

    def __init__(
        self,
        player: Callable[[RenderResult], int | None] | None = None,
        render_ahead: bool = True,
        render_process: bool | None = None,
    ) -> None:
        """``player``: called on the worker thread with each finished render, before it is sent
        to the window; it hands the sound to the output when it is to be heard at once and returns
        its token (``None``: the window decides). ``render_ahead``: see :mod:`.render_ahead`.
        ``render_process``: render in a child process (:mod:`.render_process`); default: yes
        unless ``$VAESYNTH_RENDER_PROCESS`` is ``0``."""
        super().__init__()
        self._player = player
        if render_process is None:
            render_process = os.environ.get("VAESYNTH_RENDER_PROCESS", "1") != "0"
        self._synth: Any = None
        self._knobs: VoiceKnobs | None = None
        self._info: ModelInfo | None = None
        self._weights = ""
        self._held: tuple[str, tuple[int, ...]] | None = None  # (digit, texture donors) of the last single digit
        self._generation = -1
        self.ahead = RenderAhead() if render_ahead else None  # read its counters only when idle
        self._ahead_timer = QTimer(self)  # a child: it moves to the worker thread with the engine
        self._ahead_timer.setSingleShot(True)
        self._ahead_timer.timeout.connect(self._render_one_ahead)
        self._warm_timer = QTimer(self)  # keeps the model in the CPU caches while the user is active
        self._warm_timer.setInterval(round(1000 * WARM_EVERY_S))
        self._warm_timer.timeout.connect(self._keep_warm)
        self._active_until = 0.0
        self._worked_at = 0.0  # when the last render (asked for or ahead) ended
        self._use_process = render_process
        self._process: RenderProcess | None = None
        self._thread = QThread()
        self._thread.setObjectName("vaesynth-engine")
        self.moveToThread(self._thread)
        self._do_list.connect(self._list_models)
        self._do_load.connect(self._load_model)
        self._do_render.connect(self._render)
        self._do_aim.connect(self._aim)
        self._do_halt.connect(self._halt, Qt.ConnectionType.BlockingQueuedConnection)
        self._do_take.connect(self._analyse_take)

    # --- called from the GUI thread --------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_ms: int = 5000) -> None:
        if self._thread.isRunning():  # the render-ahead timer lives in the worker: stop it there
            self._do_halt.emit()
        self._thread.quit()
        self._thread.wait(timeout_ms)

    def list_models(self, root: str | None = None) -> None:
        self._do_list.emit(root)

    def load_model(self, path: str, generation: int) -> None:
        self._do_load.emit(path, generation)

    def render(self, request: RenderRequest) -> None:
        self._do_render.emit(request)

    def render_ahead(self, request: RenderRequest) -> None:
        """While idle, render the digits ahead in ``request``'s voice (what the keypad would say
        now), so that a key press in that voice is answered without a render (:mod:`.render_ahead`)."""
        self._do_aim.emit(request)

    def analyse_take(self, request: TakeRequest) -> None:
        """Recognise the digit of a take (unless given) and encode its voice; answers with
        :attr:`take_analysed` or :attr:`take_failed`."""
        self._do_take.emit(request)

    # --- worker thread ---------------------------------------------------------------------

    @Slot(object)
    def _list_models(self, root: str | None) -> None:
        entries: list[ModelEntry] = []
        try:
            from vaesynth.model.bundle import BundleError, read_config
            from vaesynth.model.catalog import list_bundles

            for name, path in list_bundles(root).items():
                try:
                    cfg = read_config(path)
                    entries.append(ModelEntry(name, cfg.get("display_name", name), str(path), int(cfg["latent_dim"])))
                except (BundleError, ValueError, TypeError) as e:
                    entries.append(ModelEntry(name, name, str(path), None, message(e)))
        except Exception as e:  # noqa: BLE001 - report, never crash the app
            traceback.print_exc()
            entries.append(ModelEntry("", "", "", None, f"Could not list models: {message(e)}"))
        self.models_listed.emit(entries)

    @Slot(str, int)
    def _load_model(self, path: str, generation: int) -> None:
        try:
            from vaesynth.engine.synth import Synth
            from vaesynth.model.catalog import model_id, resources_dir
            from vaesynth.voices.keep import weights_fingerprint

            synth = Synth.from_path(path)
            b = synth.bundle
            knobs = VoiceKnobs.from_synth(synth)
            cfg = b.spectral
            folder = Path(b.path or path).resolve()
            try:
                where = "shipped: " + str(folder.relative_to(resources_dir().parent))
            except ValueError:
                where = str(folder)
            info = ModelInfo(
                name=b.name,
                display_name=b.display_name,
                path=str(b.path or path),
                kind=b.kind,
                latent_dim=int(synth.latent_dim),
                speakers=tuple(str(s) for s in synth.speakers),
                sample_rate=int(synth.sample_rate),
                db_min=float(cfg.db_min),
                db_max=float(cfg.db_max),
                nyquist_hz=cfg.sample_rate / 2.0,
                generation=generation,
                credits=str(b.meta.get("credits", "")),
                where=where,
                model_id=model_id(synth.bundle.path),
                has_f0=synth.has_f0,
                has_texture=synth.has_texture,
                knob_labels=tuple(b.knob_labels or ()),
                voice_map_missing=b.voice_map_missing,
                voice=knobs,
            )
            self._weights = weights_fingerprint(b.path or path)
        except Exception as e:  # noqa: BLE001 - BundleError and anything a broken file may raise
            self.model_failed.emit(path, message(e), generation, self._info)
            return
        self._synth, self._knobs, self._info, self._generation = synth, knobs, info, generation
        if self.ahead is not None:
            self.ahead.clear()
        self._start_process(str(b.path or path))
        self.model_loaded.emit(info)

    def _start_process(self, path: str) -> None:
        """(Re)start the render process for ``path`` in the background (see :mod:`.render_process`)."""
        if self._process is not None:
            self._process.close()
            self._process = None
        if self._use_process:
            try:
                self._process = RenderProcess(path)
            except Exception:  # noqa: BLE001 - rendering stays in this thread
                traceback.print_exc()

    def _renderer(self) -> Any:
        """The render process when it is ready, else ``None`` (render in this thread)."""
        proc = self._process
        return proc if proc is not None and proc.ready else None

    @property
    def warming(self) -> bool:
        """Whether the engine is keeping the model warm (only within :data:`KEEP_WARM_S` of a request)."""
        return self._warm_timer.isActive()

    def _touch(self) -> None:
        """The user is active: keep the model warm (:meth:`vaesynth.engine.synth.Synth.warm`) for a while."""
        self._active_until = time.monotonic() + KEEP_WARM_S
        if not self._warm_timer.isActive():
            self._warm_timer.start()

    @Slot()
    def _keep_warm(self) -> None:
        now = time.monotonic()
        if now > self._active_until or self._synth is None:
            self._warm_timer.stop()  # idle: no work at all
            return
        if now - self._worked_at < WARM_EVERY_S:
            return  # a render just ran: warm already
        try:
            (self._renderer() or self._synth).warm()
        except Exception:  # noqa: BLE001 - only an optimisation
            self._warm_timer.stop()

    @Slot(object)
    def _render(self, req: RenderRequest) -> None:
        self._touch()
        ahead = self.ahead
        if ahead is not None:
            t0 = time.perf_counter()
            ready = ahead.take(req) if req.generation == self._generation else None
            if req.digit is not None and req.origin in AHEAD_ORIGINS:
                ahead.aim(req)
            self._ahead_timer.start(round(1000 * AHEAD_IDLE_S))  # (re)start: ahead only when idle
            if ready is not None:
                elapsed = time.perf_counter() - t0
                self._deliver(dataclasses.replace(ready, request=req, elapsed_s=elapsed, ahead=True))
                return
        try:
            result = self._render_now(req)
        except Exception as e:  # noqa: BLE001 - a failed render is a message, not a crash
            if not isinstance(e, ValueError):
                traceback.print_exc()
            self.render_failed.emit(req, message(e))
            return
        self._deliver(result)

    def _deliver(self, result: RenderResult) -> None:
        """Sound first (the player, on this thread), then the result to the window."""
        if result.request.digit is not None and result.donors:
            self._held = (result.digits, result.donors)
        if self._player is not None and result.request.play:
            try:
                token = self._player(result)
            except Exception:  # noqa: BLE001 - the window will try to play it
                traceback.print_exc()
                token = None
            if token is not None:
                result = dataclasses.replace(result, played=token)
        self.rendered.emit(result)

    @Slot(object)
    def _aim(self, req: RenderRequest) -> None:
        self._touch()
        if self.ahead is not None and req.generation == self._generation:
            self.ahead.aim(req)
            self._ahead_timer.start(round(1000 * AHEAD_IDLE_S))

    @Slot()
    def _halt(self) -> None:
        self._ahead_timer.stop()
        self._warm_timer.stop()
        if self._process is not None:
            self._process.close()
            self._process = None
        if self.ahead is not None:
            self.ahead.clear()

    @Slot()
    def _render_one_ahead(self) -> None:
        """One digit ahead per timer shot, so that a request arriving meanwhile is never kept
        waiting for more than one render."""
        req = self.ahead.next_request() if self.ahead is not None else None
        if req is None or self._synth is None or req.generation != self._generation:
            return
        try:
            self.ahead.store(self._render_now(req))
        except Exception:  # noqa: BLE001 - the press itself will render and report
            return
        self._ahead_timer.start(1)

    def _recipe(self, req: RenderRequest) -> Any:
        """The :class:`vaesynth.voices.keep.RenderRecipe` for ``req``: what the engine renders, so that the
        recipe it hands back makes the same samples again. A single digit records its exact knobs
        (a fresh voice is drawn here); a string records its seed (the request's, else one drawn)."""
        import secrets

        from vaesynth.digits import parse_digits
        from vaesynth.voices.keep import RenderRecipe

        knobs, info = self._knobs, self._info
        if knobs is None or info is None:
            raise RuntimeError("no model is loaded")
        base = {
            "model": info.model_id, "weights": self._weights, "temperature": float(req.temperature),
            "performance": req.performance, "texture": req.texture,
        }  # fmt: skip
        if req.text is None:
            from vaesynth.engine.synth import LIVE_GL_ITERS

            digit = parse_digits(req.digit or "")
            if len(digit) != 1:
                raise ValueError("a single digit is needed")
            used = knobs.for_digit(req, digit)
            live = LIVE_GL_ITERS if req.origin in LIVE_ORIGINS else None  # a lighter phase while the voice moves
            # while the voice moves, the texture keeps its donors (it would jump with every nearest-donor change)
            held = self._held[1] if live and self._held is not None and self._held[0] == digit else None
            return RenderRecipe(
                digit, knobs=tuple(float(v) for v in used), single=True, gl_iters=live, donors=held, **base
            )
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        if req.knob_mode is KnobMode.PRESET:
            return RenderRecipe(req.text, seed=seed, voice=req.voice, vary=False, **base)
        if req.knob_mode is KnobMode.GIVEN:
            given = tuple(float(v) for v in knobs.given(req))
            return RenderRecipe(req.text, seed=seed, knobs=given, vary=False, **base)
        return RenderRecipe(req.text, seed=seed, vary=True, **base)

    def _render_now(self, req: RenderRequest) -> RenderResult:
        try:
            return self._render_recipe(req)
        finally:
            self._worked_at = time.monotonic()

    def _render_recipe(self, req: RenderRequest) -> RenderResult:
        synth = self._synth
        if synth is None or req.generation != self._generation:
            raise RuntimeError("no model is loaded")
        from vaesynth.dsp.spectral import features_to_db

        t0 = time.perf_counter()
        recipe = self._recipe(req)
        proc = self._renderer()
        try:
            render = proc.render(recipe) if proc is not None else recipe.render(synth)
        except RuntimeError:
            if proc is None or proc.ready:
                raise
            render = recipe.render(synth)  # the process died: this thread renders from now on
        wave = np.ascontiguousarray(render.wave, dtype=np.float32)
        image_db = features_to_db(np.asarray(render.features, np.float32), synth.bundle.spectral)
        sr = int(render.sample_rate)
        used = np.asarray(render.latents[0], dtype=np.float32).reshape(-1)  # exactly what was decoded
        for a in (wave, image_db):
            a.flags.writeable = False  # shared with the GUI thread: read-only from here on
        return RenderResult(
            request=req,
            wave=wave,
            sample_rate=sr,
            image_db=image_db,
            duration_s=len(wave) / sr if sr else 0.0,
            digits=str(render.digits),
            segments=tuple((float(a), float(b)) for a, b in (render.segments or [])),
            knobs=tuple(float(v) for v in used),
            elapsed_s=time.perf_counter() - t0,
            recipe=recipe,
            donors=tuple(int(j) for j in render.donors[0]) if getattr(render, "donors", None) else (),
        )

    @Slot(object)
    def _analyse_take(self, req: TakeRequest) -> None:
        try:
            result = self._analyse_now(req)
        except Exception as e:  # noqa: BLE001 - a bad take is a message, not a crash
            if not isinstance(e, ValueError):  # (VoiceInError is a ValueError: expected, no trace)
                traceback.print_exc()
            self.take_failed.emit(req, message(e))
            return
        self.take_analysed.emit(result)

    def _analyse_now(self, req: TakeRequest) -> TakeResult:
        synth = self._synth
        if synth is None or req.generation != self._generation:
            raise RuntimeError("no model is loaded")
        from vaesynth.dsp.spectral import features_to_db, mag_to_features, magnitude
        from vaesynth.voices.voice_in import load_full
        from vaesynth.voices.voice_norm import take_voice

        t0 = time.perf_counter()
        cfg = synth.bundle.spectral
        loaded = load_full(req.path if req.path is not None else req.samples, req.rate, cfg)
        voice = take_voice(synth, loaded, req.digit)
        take = loaded.wave
        image_db = features_to_db(mag_to_features(magnitude(take, cfg), cfg), cfg)  # the whole take, as analysed
        wave = np.ascontiguousarray(take, dtype=np.float32)
        for a in (wave, image_db):
            a.flags.writeable = False
        return TakeResult(
            request=req, digit=int(voice.digit), recognised=req.digit is None, margin=voice.margin,
            knobs=tuple(float(v) for v in voice.knobs), wave=wave, sample_rate=int(cfg.sample_rate),
            image_db=image_db, elapsed_s=time.perf_counter() - t0, f0_hz=voice.f0_hz, scale=float(voice.scale),
            performance=voice.performance,
        )  # fmt: skip
