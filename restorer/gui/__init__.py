"""The PySide6 desktop window. Its Qt-free logic (document, history, sessions, export, previews,
view maths) lives in :mod:`restorer.editing`; this package draws it and wires it to Qt."""
