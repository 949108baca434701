"""vaesynth's training module: FSDD data, fitting, evaluation and export of model bundles.

Run it as ``vaesynth-train`` or ``python -m training``. It imports the runtime package
(``vaesynth.models``, ``vaesynth.spectral``, ``vaesynth.bundle``); the runtime never imports it.
"""
