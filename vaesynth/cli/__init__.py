"""The ``vaesynth`` command line: the parser (:mod:`.cli`), its commands (:mod:`.commands`) and what both share."""

from .cli import main

__all__ = ["main"]
