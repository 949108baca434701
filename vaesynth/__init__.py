"""vaesynth: a desktop speech synthesizer for spoken digits built on variational autoencoders.

The runtime package: :mod:`vaesynth.synth` (the engine), :mod:`vaesynth.voice` (the knob space),
:mod:`vaesynth.bundle` (models on disk), :mod:`vaesynth.audio` (sound out), :mod:`vaesynth.app`
(the desktop app) and :mod:`vaesynth.cli`. Importing the package itself loads nothing heavy.
"""

__version__ = "0.1.0"
