"""The live spectrogram and waveform strip (pyqtgraph), with a playhead.

Everything is created once and updated in place: new renders go through
``ImageItem.setImage`` + ``setRect`` and ``PlotDataItem.setData``; nothing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from .theme import ACCENT, MUTED, PLOT_BACKGROUND

COLORMAP = "inferno"
COMPACT_BELOW_PX = 300  # a view shorter than this gets short axis titles


class SpectrogramView(QWidget):
    """Spectrogram (time in s, frequency in Hz, colour in dB) over a waveform strip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(PLOT_BACKGROUND)
        self.glw.ci.layout.setSpacing(4)
        self.glw.setToolTip("")
        self.glw.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # mouse-only view: no empty Tab stop

        self.spec_plot: pg.PlotItem = self.glw.addPlot(row=0, col=0)
        self.spec_plot.setLabel("left", "Frequency", units="Hz")
        self.spec_plot.setLabel("bottom", "")
        self.spec_plot.showAxis("bottom", True)
        self.spec_plot.getAxis("bottom").setStyle(showValues=False)
        self.spec_plot.setMouseEnabled(x=True, y=False)
        self.spec_plot.setMenuEnabled(False)
        self.spec_plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="col-major")  # image[x = frame, y = bin]
        self.spec_plot.addItem(self.image)
        cmap = pg.colormap.get(COLORMAP)
        self.colorbar = pg.ColorBarItem(
            values=(-70.0, 35.0), colorMap=cmap, label="Level (dB)", interactive=False, width=14
        )
        self.colorbar.setImageItem(self.image)
        self.glw.addItem(self.colorbar, row=0, col=1)  # own column, so both plots stay aligned

        self.wave_plot: pg.PlotItem = self.glw.addPlot(row=1, col=0)
        self.wave_plot.setLabel("bottom", "Time", units="s")
        self.wave_plot.setLabel("left", "Wave")
        self.wave_plot.getAxis("left").setStyle(showValues=False)
        self.wave_plot.setMouseEnabled(x=True, y=False)
        self.wave_plot.setMenuEnabled(False)
        self.wave_plot.hideButtons()
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.05)
        self.wave_plot.setXLink(self.spec_plot)
        self.wave_plot.setMaximumHeight(110)
        self.wave_plot.setMinimumHeight(80)
        # keep the two plots' left edges aligned; plain seconds and hertz (no SI prefixes)
        for p in (self.spec_plot, self.wave_plot):
            p.getAxis("left").setWidth(62)
            for side in ("left", "bottom"):
                p.getAxis(side).enableAutoSIPrefix(False)
        self.curve = self.wave_plot.plot(pen=pg.mkPen(ACCENT, width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)

        # Painting runs Python (pyqtgraph's paint methods) on the GUI thread and holds the GIL, which
        # the engine's thread needs for the next render: the image, the curve and the axes are kept
        # as pixmaps, so the moving playhead repaints from the cache, not through their paint().
        cached = [self.image, self.curve.curve, self.colorbar]
        cached += [p.getAxis(side) for p in (self.spec_plot, self.wave_plot) for side in ("left", "bottom")]
        for item in cached:
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        pen = pg.mkPen("#7fd7ff", width=2)
        self.playheads = [pg.InfiniteLine(angle=90, movable=False, pen=pen) for _ in range(2)]
        self.spec_plot.addItem(self.playheads[0], ignoreBounds=True)
        self.wave_plot.addItem(self.playheads[1], ignoreBounds=True)
        self.set_playhead(None)

        self.hint = pg.TextItem("Press a key (0-9) to speak", color=MUTED, anchor=(0.5, 0.5))
        self.spec_plot.addItem(self.hint, ignoreBounds=True)
        self._labels: list[pg.TextItem] = []

        self._roomy = True
        self.duration = 0.0
        self.nyquist = 4000.0
        self.set_scale(-70.0, 35.0, 4000.0)
        self.hint.setPos(0.45, 2000.0)

        self.readout = QLabel(" ")
        self.readout.setObjectName("muted")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.readout.setToolTip("Time, frequency and level under the mouse")
        self.glw.scene().sigMouseMoved.connect(self._on_mouse)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.glw)
        lay.addWidget(self.readout)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Short axis titles when the view is short: the rotated "Frequency (Hz)" is longer than a
        small spectrogram is high and ran into the waveform's title (seen at 1024x640)."""
        super().resizeEvent(event)
        roomy = event.size().height() >= COMPACT_BELOW_PX
        if roomy != self._roomy:
            self._roomy = roomy
            self.spec_plot.setLabel("left", "Frequency" if roomy else "", units="Hz")
            self.wave_plot.setLabel("left", "Wave" if roomy else "")

    def set_scale(self, db_min: float, db_max: float, nyquist_hz: float) -> None:
        """Set the colour scale (dB) and the frequency axis (0..Nyquist, Hz) for a model."""
        self.nyquist = float(nyquist_hz)
        self.colorbar.setLevels((float(db_min), float(db_max)))
        self.spec_plot.setLimits(yMin=0.0, yMax=self.nyquist, xMin=0.0)
        self.wave_plot.setLimits(xMin=0.0)
        self.spec_plot.setYRange(0.0, self.nyquist, padding=0)

    def show_render(
        self,
        image_db: np.ndarray,
        duration_s: float,
        wave: np.ndarray,
        sample_rate: int,
        segments: Sequence[tuple[float, float]] = (),
        labels: str = "",
    ) -> None:
        """Show a render in place.

        ``image_db``: ``(n_frames, n_bins)`` levels in dB spanning ``duration_s`` seconds and
        0..Nyquist; ``wave``: ``(n_samples,)`` at ``sample_rate`` Hz; ``segments``: ``(start, end)``
        seconds of each spoken digit, labelled with the characters of ``labels``.
        """
        self.hint.setVisible(False)
        self.duration = max(float(duration_s), 1e-3)
        levels = self.colorbar.levels()
        self.image.setImage(image_db, autoLevels=False, levels=levels)
        self.image.setRect(QRectF(0.0, 0.0, self.duration, self.nyquist))
        t = np.arange(len(wave), dtype=np.float32) / float(sample_rate)
        self.curve.setData(t, wave)
        self.spec_plot.setLimits(xMax=self.duration)
        self.wave_plot.setLimits(xMax=self.duration)
        self.spec_plot.setXRange(0.0, self.duration, padding=0)
        self._show_labels(segments, labels)

    def _show_labels(self, segments: Sequence[tuple[float, float]], labels: str) -> None:
        n = min(len(segments), len(labels)) if len(labels) > 1 else 0  # one digit needs no label
        while len(self._labels) < n:
            item = pg.TextItem("", color=ACCENT, anchor=(0.5, 0.0), fill=pg.mkBrush(16, 17, 20, 200))
            self.spec_plot.addItem(item, ignoreBounds=True)
            self._labels.append(item)
        for i, item in enumerate(self._labels):
            if i < n:
                start, end = segments[i]
                item.setText(labels[i])
                item.setPos(0.5 * (start + end), self.nyquist)
                item.setVisible(True)
            else:
                item.setVisible(False)

    def _on_mouse(self, pos: QPointF) -> None:
        image = self.image.image
        if image is None or not self.spec_plot.sceneBoundingRect().contains(pos):
            self.readout.setText(" ")
            return
        p = self.spec_plot.vb.mapSceneToView(pos)
        t, f = p.x(), p.y()
        if not (0.0 <= t < self.duration and 0.0 <= f < self.nyquist):
            self.readout.setText(" ")
            return
        i = min(int(t / self.duration * image.shape[0]), image.shape[0] - 1)
        j = min(int(f / self.nyquist * image.shape[1]), image.shape[1] - 1)
        self.readout.setText(f"{t:.3f} s   {f:.0f} Hz   {float(image[i, j]):.0f} dB")

    def set_playhead(self, seconds: float | None) -> None:
        """Move the playhead to ``seconds`` (``None`` hides it)."""
        for line in self.playheads:
            if seconds is None:
                line.setVisible(False)
            else:
                line.setPos(float(seconds))
                line.setVisible(True)

    def playhead(self) -> float | None:
        line = self.playheads[0]
        return float(line.value()) if line.isVisible() else None
