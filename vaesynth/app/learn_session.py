"""The takes of one "Learn my voice" run, and their folder (plain data and files; no Qt).

:class:`LearnSession` knows which take is asked for (each digit 0-9 in turn, ``per_digit`` times), which
are in, and what Redo and Back go back to; :func:`fresh_folder` makes the takes' folder new (beside the
personal models: ``takes/<name>``), never following a link.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vaesynth.digits import N_DIGITS

TAKES_DIR = "takes"  # beside the personal models' folder: takes/<name>/{digit}_{k}.wav


@dataclass
class LearnSession:
    """The takes of one run (plain data): ``per_digit`` takes of each digit 0-9 in ``folder``.

    ``position``: the prompt asked for now (``len(prompts)``: every take is in); ``last``: the prompt
    of the newest take, kept or refused (what Redo records again); ``takes``: the files kept, by
    ``(digit, k)`` with ``k`` from 1.
    """

    name: str
    per_digit: int
    folder: Path
    position: int = 0
    last: int | None = None
    takes: dict[tuple[int, int], Path] = field(default_factory=dict)

    @property
    def prompts(self) -> list[tuple[int, int]]:
        return [(d, k) for d in range(N_DIGITS) for k in range(1, self.per_digit + 1)]

    def current(self) -> tuple[int, int] | None:
        """``(digit, k)`` asked for now, ``None`` when every take is in."""
        prompts = self.prompts
        return prompts[self.position] if self.position < len(prompts) else None

    @property
    def complete(self) -> bool:
        return len(self.takes) == len(self.prompts)

    def counts(self) -> list[int]:
        return [sum(1 for d, _k in self.takes if d == digit) for digit in range(N_DIGITS)]

    def file_for(self, digit: int, k: int) -> Path:
        return self.folder / f"{digit}_{k}.wav"

    def keep(self, path: Path) -> None:
        """The take asked for now is in (``path``): on to the next prompt without a take."""
        prompts = self.prompts
        self.takes[prompts[self.position]] = path
        self.last = self.position
        later = [i for i in range(self.position + 1, len(prompts)) if prompts[i] not in self.takes]
        missing = [i for i in range(len(prompts)) if prompts[i] not in self.takes]
        self.position = (later or missing or [len(prompts)])[0]

    def back(self) -> None:
        self.position = max(0, self.position - 1)


def fresh_folder(folder: Path) -> Path:
    """``folder`` made empty and new; whatever was there goes (a link is removed, never followed)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        aside = folder.with_name(f".old-{folder.name}-{os.getpid()}")
        os.rename(folder, aside)
        shutil.rmtree(aside, ignore_errors=True)
    folder.mkdir()
    return folder
