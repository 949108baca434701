"""``python -m vaesynth``: the same as the ``vaesynth`` command."""

from vaesynth.cli import main

raise SystemExit(main())
