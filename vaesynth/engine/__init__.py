"""Digits + knobs + performance -> waveform: :class:`~vaesynth.engine.synth.Synth` and the performance settings."""
