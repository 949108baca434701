"""What the window remembers between runs (:class:`~vaesynth.app.settings.AppSettings`): geometry,
splitters, the explore tab, the voice toggles, temperature, performance (pitch, speed, sing), the
MIDI input, the last digit and the number field. Restored once at start, saved at close."""

from __future__ import annotations

from typing import Any


def restore_view(w: Any) -> None:
    """Restore ``w`` (a :class:`~vaesynth.app.main_window.MainWindow`) from its settings."""
    s = w.settings
    geo = s.geometry()
    if geo is None or not w.restoreGeometry(geo):
        w.resize(1280, 800)
    if (sp := s.splitter()) is not None:
        w.view.splitter.restoreState(sp)
    if (sp := s.top_splitter()) is not None:
        w.view.top_splitter.restoreState(sp)
    w.view.explore.setCurrentIndex(max(0, min(s.explore_tab, w.view.explore.count() - 1)))
    w.hold_voice.setChecked(s.hold_voice)
    w.auto_play.setChecked(s.auto_play)
    w.knob_panel.temperature.setValue(s.temperature)
    w.performance.restore(s.performance())
    w.view.midi.sing.setChecked(s.midi_sing)
    w.say_box.set_text(s.text)


def save_view(w: Any) -> None:
    """Save ``w``'s state to its settings (and sync them)."""
    s = w.settings
    s.set_geometry(w.saveGeometry())
    s.set_splitter(w.view.splitter.saveState())
    s.set_top_splitter(w.view.top_splitter.saveState())
    s.explore_tab = w.view.explore.currentIndex()
    s.hold_voice, s.auto_play = w.hold_voice.isChecked(), w.auto_play.isChecked()
    s.temperature, s.digit, s.text = w.knob_panel.temperature.value(), w.digit, w.say_box.text()
    s.set_performance(w.performance.state())
    s.midi_port, s.midi_sing = w.midi.chosen, w.view.midi.sing.isChecked()
    if w.model_info is not None and w.knob_panel.latent_dim == w.model_info.latent_dim:
        s.set_knobs(w.model_info.name, w.knob_panel.values())
    s.sync()
