"""Persistent settings (QSettings) with typed accessors, so that keys and types live in one place."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "vaesynth"
APPLICATION = "vaesynth"


def default_settings() -> QSettings:
    """The user's settings (native format, per-user location)."""
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def file_settings(path: str | Path) -> QSettings:
    """Settings kept in the INI file ``path`` (tests, screenshots: nothing leaks elsewhere)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


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
            return float(self._get(key, default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default

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
        except json.JSONDecodeError:
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
            return [float(x) for x in v] if isinstance(v, list) else []
        except (json.JSONDecodeError, TypeError, ValueError):
            return []

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
        return d if len(d) == 1 and d.isdigit() else "5"

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
        except json.JSONDecodeError:
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
