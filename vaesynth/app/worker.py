"""Off-GUI-thread work: model listing/loading and rendering (:class:`Engine`), audio (:class:`AudioBridge`).

Both are ``QObject`` s that live in their own ``QThread``; the window talks to them with queued
signals and gets plain-data results back (:class:`ModelInfo`, :class:`RenderResult`). They import
``vaesynth.synth`` / ``vaesynth.audio`` (and so torch, PortAudio) lazily, inside their thread, so
that importing :mod:`vaesynth.app` stays light and the window shows before any of that loads.
Every failure comes back as a plain-words message; nothing here raises into Qt.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot


@dataclass
class ModelEntry:
    """A bundle found on disk (from its config only; weights not loaded)."""

    name: str
    display_name: str
    path: str
    latent_dim: int | None = None
    error: str | None = None


@dataclass
class ModelInfo:
    """What the window needs to know about the loaded model."""

    name: str
    display_name: str
    path: str
    kind: str
    latent_dim: int
    speakers: list[str]
    sample_rate: int
    db_min: float
    db_max: float
    nyquist_hz: float
    generation: int = 0
    credits: str = ""
    where: str = ""  # the folder as shown to the user (relative for shipped models)


@dataclass
class RenderRequest:
    """One thing to say.

    ``knob_mode``: ``"given"`` uses ``knobs``; ``"random"`` draws fresh knobs at ``temperature``;
    ``"voice"`` uses the preset of speaker ``voice``. For strings (``text`` set), ``"given"``
    holds ``knobs`` for every digit, ``"random"`` varies each digit, ``"voice"`` speaks as ``voice``.
    """

    digit: str | None = None
    text: str | None = None
    knob_mode: str = "given"
    knobs: list[float] | None = None
    voice: str | None = None
    temperature: float = 1.0
    play: bool = True
    origin: str = "key"  # key | knob | string | randomize | voice | screenshot
    generation: int = 0
    seq: int = 0


@dataclass
class RenderResult:
    """A finished render, ready to show and play. Arrays are numpy, no tensors."""

    request: RenderRequest
    wave: np.ndarray  # float32 (n_samples,) at sample_rate
    sample_rate: int
    image_db: np.ndarray  # float32 (n_frames, n_bins), dB
    duration_s: float
    digits: str
    segments: list[tuple[float, float]]
    knobs: list[float]  # the knobs used (for a string: those of its first digit)
    elapsed_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def _message(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text[0].upper() + text[1:] if text else text


class Engine(QObject):
    """Loads models and renders digits in a worker thread. Create it, then :meth:`start`."""

    models_listed = Signal(list)  # list[ModelEntry]
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str, str, int, object)  # path, message, generation, ModelInfo still loaded (or None)
    rendered = Signal(object)  # RenderResult
    render_failed = Signal(object, str)  # RenderRequest, message

    _do_list = Signal(object)
    _do_load = Signal(str, int)
    _do_render = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.synth: Any = None
        self.info: ModelInfo | None = None
        self.generation = -1
        self._thread = QThread()
        self._thread.setObjectName("vaesynth-engine")
        self.moveToThread(self._thread)
        self._do_list.connect(self._list_models)
        self._do_load.connect(self._load_model)
        self._do_render.connect(self._render)

    # --- called from the GUI thread --------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_ms: int = 5000) -> None:
        self._thread.quit()
        self._thread.wait(timeout_ms)

    def list_models(self, root: str | None = None) -> None:
        self._do_list.emit(root)

    def load_model(self, path: str, generation: int) -> None:
        self._do_load.emit(path, generation)

    def render(self, request: RenderRequest) -> None:
        self._do_render.emit(request)

    # --- worker thread ---------------------------------------------------------------------

    @Slot(object)
    def _list_models(self, root: str | None) -> None:
        entries: list[ModelEntry] = []
        try:
            from vaesynth.bundle import BundleError, list_bundles, read_config

            for name, path in list_bundles(root).items():
                try:
                    cfg = read_config(path)
                    entries.append(ModelEntry(name, cfg.get("display_name", name), str(path), int(cfg["latent_dim"])))
                except (BundleError, ValueError, TypeError) as e:
                    entries.append(ModelEntry(name, name, str(path), None, _message(e)))
        except Exception as e:  # noqa: BLE001 - report, never crash the app
            traceback.print_exc()
            entries.append(ModelEntry("", "", "", None, f"Could not list models: {_message(e)}"))
        self.models_listed.emit(entries)

    @Slot(str, int)
    def _load_model(self, path: str, generation: int) -> None:
        try:
            from vaesynth.bundle import resources_dir
            from vaesynth.synth import Synth

            synth = Synth.from_path(path)
            b = synth.bundle
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
                speakers=[str(s) for s in synth.speakers],
                sample_rate=int(synth.sample_rate),
                db_min=float(cfg.db_min),
                db_max=float(cfg.db_max),
                nyquist_hz=cfg.sample_rate / 2.0,
                generation=generation,
                credits=str(b.meta.get("credits", "")),
                where=where,
            )
        except Exception as e:  # noqa: BLE001 - BundleError and anything a broken file may raise
            self.model_failed.emit(path, _message(e), generation, self.info)
            return
        self.synth = synth
        self.info = info
        self.generation = generation
        self.model_loaded.emit(info)

    @Slot(object)
    def _render(self, req: RenderRequest) -> None:
        try:
            result = self._render_now(req)
        except Exception as e:  # noqa: BLE001 - a failed render is a message, not a crash
            if not isinstance(e, ValueError):
                traceback.print_exc()
            self.render_failed.emit(req, _message(e))
            return
        self.rendered.emit(result)

    def _render_now(self, req: RenderRequest) -> RenderResult:
        synth = self.synth
        if synth is None or req.generation != self.generation:
            raise RuntimeError("no model is loaded")
        from vaesynth.digits import parse_digits
        from vaesynth.spectral import features_to_db

        t0 = time.perf_counter()
        knobs: list[float]
        if req.text is not None:
            text = req.text
            digits = parse_digits(text)  # validates; render_string keeps the groups for pauses
            if req.knob_mode == "voice" and req.voice:
                render = synth.render_string(text, vary=False, voice=req.voice)
                knobs = _as_list(synth.knobs.preset(req.voice, digits[0]))
            elif req.knob_mode == "given" and req.knobs is not None:
                knobs = self._checked(req.knobs)
                render = synth.render_string(text, knobs=np.asarray(knobs, np.float32), vary=False)
            else:
                render = synth.render_string(text, vary=True, temperature=req.temperature)
                knobs = _first_knobs(render, synth.latent_dim)
        else:
            digit = parse_digits(req.digit or "")
            if len(digit) != 1:
                raise ValueError("a single digit is needed")
            if req.knob_mode == "voice" and req.voice:
                k = synth.knobs.preset(req.voice, digit)
            elif req.knob_mode == "given" and req.knobs is not None:
                k = np.asarray(self._checked(req.knobs), np.float32)
            else:
                k = synth.knobs.fresh(digit, req.temperature)
            render = synth.render_digit(digit, k)
            knobs = _as_list(k)
        cfg = synth.bundle.spectral
        wave = np.ascontiguousarray(render.wave, dtype=np.float32)
        image_db = features_to_db(np.asarray(render.features, np.float32), cfg)
        sr = int(render.sample_rate)
        return RenderResult(
            request=req,
            wave=wave,
            sample_rate=sr,
            image_db=image_db,
            duration_s=len(wave) / sr if sr else 0.0,
            digits=str(render.digits),
            segments=[(float(a), float(b)) for a, b in (render.segments or [])],
            knobs=knobs,
            elapsed_s=time.perf_counter() - t0,
        )

    def _checked(self, knobs: list[float]) -> list[float]:
        return [float(v) for v in self.synth.knobs.check(knobs)]


def _as_list(k: Any) -> list[float]:
    if hasattr(k, "detach"):
        k = k.detach().cpu().numpy()
    return [float(v) for v in np.asarray(k, dtype=np.float64).reshape(-1)]


def _first_knobs(render: Any, d: int) -> list[float]:
    """The knobs a string render used for its first digit, if the render says (else zeros)."""
    lat = getattr(render, "latents", None)
    try:
        if lat is not None and len(lat):
            first = _as_list(lat[0])
            if len(first) == d:
                return first
    except (TypeError, ValueError):
        pass
    return [0.0] * d


class AudioBridge(QObject):
    """Owns the :class:`vaesynth.audio.AudioOutput` and calls it from its own thread.

    Opening a PortAudio stream can take tens of milliseconds, so play/stop/device changes run
    here rather than on the GUI thread. :meth:`position` is read directly (for the playhead).
    """

    state_changed = Signal(bool, str, list)  # available, status in plain words, devices
    played = Signal(int, bool, str)  # token, started, status

    _do_start = Signal()
    _do_play = Signal(object, int, int)
    _do_stop = Signal()
    _do_device = Signal(object)

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self._factory = factory
        self.output: Any = None
        self._thread = QThread()
        self._thread.setObjectName("vaesynth-audio")
        self.moveToThread(self._thread)
        self._do_start.connect(self._start)
        self._do_play.connect(self._play)
        self._do_stop.connect(self._stop)
        self._do_device.connect(self._set_device)

    # --- GUI thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._do_start.emit()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        self._do_stop.emit()
        self._thread.quit()
        self._thread.wait(timeout_ms)

    def play(self, wave: np.ndarray, sample_rate: int, token: int) -> None:
        self._do_play.emit(wave, sample_rate, token)

    def stop(self) -> None:
        self._do_stop.emit()

    def set_device(self, index: int | None) -> None:
        self._do_device.emit(index)

    def position(self) -> float | None:
        out = self.output
        if out is None:
            return None
        try:
            return out.position()
        except Exception:  # noqa: BLE001
            return None

    # --- audio thread ----------------------------------------------------------------------

    def _report(self) -> None:
        out = self.output
        if out is None:
            return
        try:
            devices = list(out.devices()) if out.available else []
        except Exception:  # noqa: BLE001
            devices = []
        status = str(out.status)
        if out.available:
            dev = getattr(out, "device", None)
            name = next((d.get("name") for d in devices if d.get("index") == dev), None)
            if name is None:
                name = next((d.get("name") for d in devices if d.get("default")), None)
            rate = getattr(out, "sample_rate", None)
            if name:
                status = f"Sound output: {name}" + (f" ({rate} Hz)" if rate else "")
        self.state_changed.emit(bool(out.available), status, devices)

    @Slot()
    def _start(self) -> None:
        try:
            if self._factory is not None:
                self.output = self._factory()
            else:
                from vaesynth.audio import AudioOutput

                self.output = AudioOutput()
        except Exception as e:  # noqa: BLE001 - e.g. the audio module itself cannot load
            self.output = None
            self.state_changed.emit(False, f"No audio output: {_message(e)}", [])
            return
        self._report()

    @Slot(object, int, int)
    def _play(self, wave: np.ndarray, sample_rate: int, token: int) -> None:
        out = self.output
        if out is None:
            self.played.emit(token, False, "no audio output")
            return
        was = bool(out.available)
        try:
            ok = bool(out.play(wave, sample_rate)) and bool(out.available)
        except Exception as e:  # noqa: BLE001
            self.played.emit(token, False, _message(e))
            return
        if bool(out.available) != was:
            self._report()  # the device came back or went away
        self.played.emit(token, ok, str(out.status))

    @Slot()
    def _stop(self) -> None:
        if self.output is not None:
            try:
                self.output.stop()
            except Exception:  # noqa: BLE001
                pass

    @Slot(object)
    def _set_device(self, index: int | None) -> None:
        if self.output is None:
            return
        try:
            self.output.set_device(index)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        self._report()
