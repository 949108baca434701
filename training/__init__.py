"""vaesynth's training module: FSDD data, fitting, evaluation and writing of model bundles.

Run it as ``vaesynth-train`` or ``python -m training``; docs/training.md describes the run
configuration (:mod:`training.config`), the modules and multi-process / multi-node training.
It imports the runtime package (``vaesynth.model.models``, ``vaesynth.dsp.spectral``, ``vaesynth.model.bundle``);
the runtime never imports it.
"""
