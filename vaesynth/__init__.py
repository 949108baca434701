"""vaesynth: a desktop speech synthesizer for spoken digits built on variational autoencoders.

The runtime package, grouped by role (docs/architecture.md): :mod:`vaesynth.engine` (digits + knobs
-> waveform), :mod:`vaesynth.voices` (the knob space, saved voices), :mod:`vaesynth.model` (models on
disk and in memory), :mod:`vaesynth.dsp` (spectral analysis, phase, pitch), :mod:`vaesynth.sound`
(sound in and out, WAV files), :mod:`vaesynth.midi`, :mod:`vaesynth.cli` and :mod:`vaesynth.app`
(the desktop app); :mod:`vaesynth.digits` is the ground floor. Importing the package itself loads
nothing heavy.
"""

__version__ = "0.1.0"
