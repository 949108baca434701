"""Persistent settings (QSettings) with typed accessors, so that keys and types live in one place.

The settings file is untrusted input, and saving it must never harm what it points to:

- it is read once, through the bounded reader (:func:`vaesynth.sound.safeio.read_bounded`: a FIFO, a
  device or a link to one is refused before it is opened; at most :data:`MAX_SETTINGS_BYTES`),
  into a private copy that Qt's INI parser reads;
- every key is validated (:data:`VALIDATORS`): a bad value is dropped with one log line, the rest load;
- saving (:meth:`SafeSettings.sync`) writes the private copy's bytes with the one atomic writer
  (:func:`vaesynth.sound.safeio.atomic_write`): a link to a regular file has its target replaced, a link
  to a device, FIFO or folder is never written through (one log line; the settings are not saved).
  Qt's own writer (QSaveFile) would rename a new file over the link's target, even over a device.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from vaesynth.sound.safeio import atomic_write, read_bounded

ORGANIZATION = "vaesynth"
APPLICATION = "vaesynth"
MAX_SETTINGS_BYTES = 1 << 20
MAX_JSON_TEXT = 64 << 10
log = logging.getLogger("vaesynth.settings")


def settings_path() -> Path:
    """The user's settings file on Linux: ``$XDG_CONFIG_HOME/vaesynth/vaesynth.conf`` (Qt's native INI place)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base) / ORGANIZATION / f"{APPLICATION}.conf"


def default_settings() -> QSettings:
    """The user's settings (Qt's native place; on Linux an INI file kept by :class:`SafeSettings`)."""
    if sys.platform.startswith("linux"):
        return SafeSettings(settings_path())
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def file_settings(path: str | Path) -> QSettings:
    """Settings kept in the INI file ``path`` (tests, screenshots: nothing leaks elsewhere)."""
    return SafeSettings(path)


def _text(limit: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, str) and len(v) <= limit and all(ord(c) >= 32 for c in v)


def _json(check: Callable[[object], bool]) -> Callable[[object], bool]:
    def ok(v: object) -> bool:
        if not isinstance(v, str) or len(v) > MAX_JSON_TEXT:
            return False
        try:
            return check(json.loads(v))
        except (ValueError, RecursionError):
            return False

    return ok


def _number(lo: float, hi: float, whole: bool = False) -> Callable[[object], bool]:
    def ok(v: object) -> bool:
        try:
            x = float(v) if not isinstance(v, bool) else math.nan  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return math.isfinite(x) and lo <= x <= hi and (not whole or x == int(x))

    return ok


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and abs(x) <= 1e3


def _flat(x: object) -> bool:
    return x is None or isinstance(x, str | bool) and len(str(x)) <= 64 or _finite(x)


_BOOL = lambda v: isinstance(v, bool) or isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "yes", "no")  # noqa: E731
_BYTES = lambda v: isinstance(v, QByteArray) and v.size() <= (64 << 10)  # noqa: E731
VALIDATORS: dict[str, Callable[[object], bool]] = {
    "window/geometry": _BYTES,
    "window/splitter": _BYTES,
    "window/top_splitter": _BYTES,
    "window/explore_tab": _number(0, 64, whole=True),
    "model/path": _text(4096),
    "model/opened": _json(lambda x: isinstance(x, list) and len(x) <= 64 and all(_text(4096)(p) for p in x)),
    "audio/device": _text(512),
    "voice/temperature": _number(0.0, 3.0),
    "voice/hold": _BOOL,
    "voice/autoplay": _BOOL,
    "voice/digit": lambda v: isinstance(v, str) and len(v) == 1 and v in "0123456789",
    "voice/text": _text(1000),
    "voice/performance": _json(lambda x: isinstance(x, dict) and len(x) <= 16 and all(
        _text(32)(k) and _flat(v) for k, v in x.items())),  # fmt: skip
    "midi/port": _text(512),
    "midi/sing": _BOOL,
}
KNOBS = _json(lambda x: isinstance(x, list) and len(x) <= 256 and all(_finite(v) for v in x))


def _validator(key: str) -> Callable[[object], bool] | None:
    if key.startswith("knobs/"):
        return KNOBS if len(key) <= 200 else (lambda v: False)
    return VALIDATORS.get(key)


class SafeSettings(QSettings):
    """An INI-file QSettings that reads and writes its file safely (see the module doc)."""

    def __init__(self, path: str | Path) -> None:
        folder = Path(tempfile.mkdtemp(prefix="vaesynth-settings-"))
        atexit.register(shutil.rmtree, folder, True)
        shadow = folder / "settings.ini"
        target = Path(path)
        refused = False
        try:
            data = read_bounded(target, MAX_SETTINGS_BYTES, "settings file")
        except FileNotFoundError:
            data = b""
        except OSError as e:
            log.warning("settings: ignoring %s: %s", target, e.strerror or e)
            data = b""
            refused = True
        shadow.write_bytes(data)
        super().__init__(str(shadow), QSettings.Format.IniFormat)
        self._target, self._shadow, self._saved, self._refused = target, shadow, data, refused
        for key in self.allKeys():
            check = _validator(key)
            if check is not None and not check(self.value(key)):
                log.warning("settings: dropping the bad value of %s", key[:80])
                self.remove(key)

    def target(self) -> Path:
        """The settings file this object keeps (not Qt's private copy)."""
        return self._target

    def sync(self) -> None:
        """Write the settings to their file (atomically; never through a link to a device or FIFO)."""
        super().sync()
        try:
            data = self._shadow.read_bytes()
            if data != self._saved:
                self._target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self._target, data)
                self._saved = data
        except OSError as e:
            if not self._refused:  # a file refused on reading was said once already
                log.warning("settings: not saved to %s: %s", self._target, e.strerror or e)
            self._refused = True


class AppSettings:
    """Typed view of the app's QSettings keys."""

    def __init__(self, qsettings: QSettings) -> None:
        self.q = qsettings

    def _get(self, key: str, default: object) -> object:
        v = self.q.value(key, default)
        return default if v is None else v

    def _bool(self, key: str, default: bool) -> bool:
        v = self._get(key, default)
        if isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        return bool(v)

    def _float(self, key: str, default: float) -> float:
        try:
            v = float(self._get(key, default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
        return v if math.isfinite(v) else default

    # window
    def geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_geometry(self, data: QByteArray) -> None:
        self.q.setValue("window/geometry", data)

    def splitter(self) -> QByteArray | None:
        v = self.q.value("window/splitter")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_splitter(self, data: QByteArray) -> None:
        self.q.setValue("window/splitter", data)

    def top_splitter(self) -> QByteArray | None:
        v = self.q.value("window/top_splitter")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_top_splitter(self, data: QByteArray) -> None:
        self.q.setValue("window/top_splitter", data)

    @property
    def explore_tab(self) -> int:
        try:
            return int(self._get("window/explore_tab", 0))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return 0

    @explore_tab.setter
    def explore_tab(self, index: int) -> None:
        self.q.setValue("window/explore_tab", int(index))

    # model and audio
    @property
    def model_path(self) -> str:
        return str(self._get("model/path", ""))

    @model_path.setter
    def model_path(self, path: str) -> None:
        self.q.setValue("model/path", path)

    def opened_models(self) -> list[str]:
        try:
            v = json.loads(str(self._get("model/opened", "[]")))
            return [str(p) for p in v] if isinstance(v, list) else []
        except (ValueError, RecursionError):
            return []

    def set_opened_models(self, paths: list[str]) -> None:
        self.q.setValue("model/opened", json.dumps(paths))

    @property
    def device_name(self) -> str:
        return str(self._get("audio/device", ""))

    @device_name.setter
    def device_name(self, name: str) -> None:
        self.q.setValue("audio/device", name)

    # voice
    def knobs(self, model_name: str) -> list[float]:
        try:
            v = json.loads(str(self._get(f"knobs/{model_name}", "[]")))
            values = [float(x) for x in v] if isinstance(v, list) else []
        except (TypeError, ValueError, RecursionError):
            return []
        return values if all(math.isfinite(x) for x in values) else []

    def set_knobs(self, model_name: str, values: list[float]) -> None:
        self.q.setValue(f"knobs/{model_name}", json.dumps([round(float(x), 3) for x in values]))

    @property
    def temperature(self) -> float:
        return self._float("voice/temperature", 1.0)

    @temperature.setter
    def temperature(self, t: float) -> None:
        self.q.setValue("voice/temperature", float(t))

    @property
    def hold_voice(self) -> bool:
        return self._bool("voice/hold", False)

    @hold_voice.setter
    def hold_voice(self, on: bool) -> None:
        self.q.setValue("voice/hold", bool(on))

    @property
    def auto_play(self) -> bool:
        return self._bool("voice/autoplay", True)

    @auto_play.setter
    def auto_play(self, on: bool) -> None:
        self.q.setValue("voice/autoplay", bool(on))

    @property
    def digit(self) -> str:
        d = str(self._get("voice/digit", "5"))
        return d if len(d) == 1 and d in "0123456789" else "5"

    @digit.setter
    def digit(self, d: str) -> None:
        self.q.setValue("voice/digit", d)

    @property
    def text(self) -> str:
        return str(self._get("voice/text", "2025"))

    @text.setter
    def text(self, t: str) -> None:
        self.q.setValue("voice/text", t)

    def performance(self) -> dict:
        """Pitch, speed, sing, note text and contour as last set (``{}`` if never or unreadable)."""
        try:
            v = json.loads(str(self._get("voice/performance", "{}")))
        except (ValueError, RecursionError):
            return {}
        return v if isinstance(v, dict) else {}

    def set_performance(self, values: dict) -> None:
        self.q.setValue("voice/performance", json.dumps(values))

    @property
    def midi_port(self) -> str:
        return str(self._get("midi/port", ""))

    @midi_port.setter
    def midi_port(self, name: str) -> None:
        self.q.setValue("midi/port", name)

    @property
    def midi_sing(self) -> bool:
        return self._bool("midi/sing", False)

    @midi_sing.setter
    def midi_sing(self, on: bool) -> None:
        self.q.setValue("midi/sing", bool(on))

    def sync(self) -> None:
        self.q.sync()
