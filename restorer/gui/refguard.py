"""A guard against a reference-count leak in the installed PySide6 build (6.12.0).

Measured here: every call from Python to a Qt method returning ``void`` gives back ``None``
without counting the reference it hands over, and every ``Signal.emit()`` does the same with the
``True`` it returns. Each call thus lowers the reference count of ``None`` or ``True`` by one. A
session of painting and moving the pointer makes hundreds of thousands of such calls; once a count
reaches zero, CPython frees the singleton and aborts: "Fatal Python error: none_dealloc" (or
bool_dealloc), exit status 134, most often while quitting, when teardown drops many references.

No code of ours can avoid those calls, so the guard keeps a large reserve of references on the
three singletons (they are never freed on purpose, so extra references cost nothing) and tops it
up on a timer. It acts only where the leak is measured, on CPython before 3.12 (from 3.12 these
objects are immortal and their counts are not used). A fixed PySide6 build makes it a no-op.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 40  # references: at a million leaked a second, 12 days' worth
TOP_UP_MS = 60_000
_SINGLETONS = (None, True, False)
_state: dict[str, object] = {}


def _refcount_field(obj: object) -> ctypes.c_ssize_t:
    # CPython: ob_refcnt is the object's first field, at its address (id).
    return ctypes.c_ssize_t.from_address(id(obj))


def applies() -> bool:
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def leaks() -> bool:
    """Whether this PySide6 build loses references to None or True (measured once)."""
    if "leaks" not in _state:
        from PySide6.QtCore import QObject, Signal

        class _Probe(QObject):
            ping = Signal()

        probe = _Probe()
        none, true = sys.getrefcount(None), sys.getrefcount(True)
        for _ in range(16):
            probe.setObjectName("probe")  # a void method
            probe.ping.emit()
        _state["leaks"] = sys.getrefcount(None) < none or sys.getrefcount(True) < true
    return bool(_state["leaks"])


def top_up() -> None:
    """Bring each singleton's reserve back to RESERVE (only ever adds references)."""
    for obj in _SINGLETONS:
        field = _refcount_field(obj)
        if field.value < RESERVE:
            field.value += RESERVE


def install() -> bool:
    """Start guarding (idempotent; needs the QApplication); True when the guard is active."""
    if _state.get("installed"):
        return True
    if not applies() or not leaks():
        return False
    from PySide6.QtCore import QCoreApplication, QTimer

    top_up()
    app = QCoreApplication.instance()
    if app is not None:  # the timer lives as long as the application
        timer = QTimer(app, interval=TOP_UP_MS, timeout=top_up)
        timer.start()
        _state["timer"] = timer
    _state["installed"] = True
    return True
