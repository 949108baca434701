"""The app's look: Fusion style with a dark palette and a little stylesheet."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

ACCENT = "#f0a030"  # amber, matches the warm end of the spectrogram colour map
BACKGROUND = "#1e1f24"
PANEL = "#26282e"
PLOT_BACKGROUND = "#101114"
TEXT = "#e4e4e8"
MUTED = "#9a9ca6"
ERROR = "#ff6b6b"

STYLESHEET = f"""
QGroupBox {{
    border: 1px solid #3a3c44;
    border-radius: 6px;
    margin-top: 14px;
    padding: 8px 6px 6px 6px;
    background: {PANEL};
    font-weight: bold;
}}
QGroupBox::title {{
    subcontrol-origin: margin;
    left: 10px;
    padding: 0 4px;
    color: {ACCENT};
}}
QPushButton#key {{
    font-size: 22px;
    font-weight: bold;
    min-width: 58px;
    min-height: 48px;
    border-radius: 8px;
    border: 1px solid #4a4c56;
    background: qlineargradient(x1:0, y1:0, x2:0, y2:1, stop:0 #3b3e47, stop:1 #2e3038);
}}
QPushButton#key:hover {{ border-color: {ACCENT}; }}
QPushButton#key:pressed {{
    background: {ACCENT};
    color: #1a1a1a;
}}
QPushButton#key:disabled {{ color: #666; }}
QLabel#display {{
    font-family: "DejaVu Sans Mono", monospace;
    font-size: 20px;
    color: {ACCENT};
    background: {PLOT_BACKGROUND};
    border: 1px solid #3a3c44;
    border-radius: 4px;
    padding: 4px 8px;
}}
QLabel#error {{ color: {ERROR}; }}
QLabel#muted, QLabel#knobName {{ color: {MUTED}; }}
QLabel#knobEffect {{ color: {MUTED}; font-size: 9px; }}
QLabel#knobEffectStrong {{ font-size: 9px; }}
QLabel#knobValue {{ font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }}
QStatusBar {{ color: {MUTED}; }}
"""


def restyle(widget: QWidget, role: str) -> None:
    """Give ``widget`` the style sheet's rule for object name ``role`` ("" for none: "error",
    "muted", ...) and apply it now (Qt applies a changed name only on a new polish)."""
    widget.setObjectName(role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def apply_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style, a dark palette and the app's stylesheet."""
    app.setStyle("Fusion")
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(BACKGROUND))
    p.setColor(role.WindowText, QColor(TEXT))
    p.setColor(role.Base, QColor("#17181c"))
    p.setColor(role.AlternateBase, QColor(PANEL))
    p.setColor(role.ToolTipBase, QColor("#30323a"))
    p.setColor(role.ToolTipText, QColor(TEXT))
    p.setColor(role.Text, QColor(TEXT))
    p.setColor(role.Button, QColor("#33353d"))
    p.setColor(role.ButtonText, QColor(TEXT))
    p.setColor(role.BrightText, QColor("#ffffff"))
    p.setColor(role.Highlight, QColor(ACCENT))
    p.setColor(role.HighlightedText, QColor("#1a1a1a"))
    p.setColor(role.Link, QColor(ACCENT))
    p.setColor(role.PlaceholderText, QColor(MUTED))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(disabled, r, QColor("#6a6c74"))
    app.setPalette(p)
    app.setStyleSheet(STYLESHEET)


def app_icon() -> QIcon:
    """The window icon, drawn at start-up: a dark rounded square with an amber voice waveform."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(PANEL))
        p.drawRoundedRect(QRectF(0, 0, size, size), size * 0.2, size * 0.2)
        path = QPainterPath()
        n = 64
        for i in range(n + 1):
            x = i / n
            envelope = math.sin(math.pi * x) ** 2
            y = 0.5 - 0.36 * envelope * math.sin(2 * math.pi * 5.5 * x)
            pt = QPointF(size * (0.1 + 0.8 * x), size * y)
            path.moveTo(pt) if i == 0 else path.lineTo(pt)
        p.setPen(QPen(QColor(ACCENT), max(1.0, size / 18), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.end()
        icon.addPixmap(pm)
    return icon


def tool_icon(kind: str, colour: str = TEXT) -> QIcon:
    """A toolbar icon drawn in the text colour, so it shows on the dark toolbar: ``"play"`` (a
    triangle), ``"stop"`` (a square) or ``"save"`` (an arrow into a tray)."""
    icon = QIcon()
    for size in (16, 24, 32, 48):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = float(size)
        if kind == "play":
            path = QPainterPath(QPointF(0.25 * s, 0.16 * s))
            path.lineTo(0.84 * s, 0.5 * s)
            path.lineTo(0.25 * s, 0.84 * s)
            path.closeSubpath()
            p.fillPath(path, QColor(colour))
        elif kind == "stop":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(colour))
            p.drawRoundedRect(QRectF(0.22 * s, 0.22 * s, 0.56 * s, 0.56 * s), 0.06 * s, 0.06 * s)
        else:  # save
            pen = QPen(QColor(colour), max(1.5, s / 10), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            p.drawLine(QPointF(0.5 * s, 0.14 * s), QPointF(0.5 * s, 0.6 * s))
            p.drawPolyline([QPointF(0.3 * s, 0.42 * s), QPointF(0.5 * s, 0.62 * s), QPointF(0.7 * s, 0.42 * s)])
            p.drawPolyline(
                [
                    QPointF(0.16 * s, 0.62 * s),
                    QPointF(0.16 * s, 0.84 * s),
                    QPointF(0.84 * s, 0.84 * s),
                    QPointF(0.84 * s, 0.62 * s),
                ]
            )
        p.end()
        icon.addPixmap(pm)
    return icon
