"""A guard against a reference-count bug in some PySide6 builds on CPython < 3.12.

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to ``None`` on every call of a C++
method that returns ``void`` (``QLabel.setText``, ``QTimer.start``, every ``QPainter`` call that
pyqtgraph makes ...) and a reference to ``True`` on every ``Signal.emit``. Python 3.12 and later
make these objects immortal, so nothing happens there; on 3.11 their counts fall by thousands a
second while the window is busy, and the process aborts ("Fatal Python error: none_dealloc") after
a few seconds to minutes. PySide6 6.11.3 does not have the bug.

The real fix is a PySide6 without the bug (the project pins it). This module is the belt to go with
those braces: :func:`install_refcount_guard` checks, once, whether the running PySide6 leaks, and if
it does, gives ``None``, ``True`` and ``False`` a reference count so large (2**60) that it cannot
run out, which is what CPython 3.12's immortal objects do. On a PySide6 without the bug, or on
Python >= 3.12, it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

HEADROOM = 1 << 60  # far below the ssize_t limit, far above any number of leaked references
_checked: bool | None = None


def leaks_references(calls: int = 1000) -> bool:
    """Whether void Qt calls or ``Signal.emit`` lose references to ``None``/``True`` here.

    If they do, ``None``/``True``/``False`` are made immortal before this returns.
    """
    from PySide6.QtCore import QObject, QTimer, Signal

    class _Probe(QObject):
        ping = Signal()

    probe, timer = _Probe(), QTimer()
    hold = [None, True, False] * calls  # the probe itself must not run the counts out
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        timer.setInterval(5)  # returns void
        probe.ping.emit()  # returns a bool
    lost_none = none0 - sys.getrefcount(None)
    lost_true = true0 - sys.getrefcount(True)
    leaks = max(lost_none, lost_true) > calls // 2
    if leaks:
        _immortalize()  # before `hold` gives its references back
    del hold
    return leaks


def _immortalize() -> None:
    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is a PyObject's first field
        refcnt.value = refcnt.value + HEADROOM


def install_refcount_guard() -> bool:
    """Make ``None``/``True``/``False`` effectively immortal if this PySide6 leaks them (once per process).

    Returns whether the guard is active.
    """
    global _checked
    if _checked is None:
        _checked = False
        if sys.implementation.name == "cpython" and sys.version_info < (3, 12):
            _checked = leaks_references()  # immortalizes if it does
    return _checked
