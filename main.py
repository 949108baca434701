"""Start vaesynth from a source checkout: ``python main.py`` (the app) or ``python main.py say 123``."""

from vaesynth.cli import main

raise SystemExit(main())
