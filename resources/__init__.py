"""Bundled resources (the sample photo and mask, the icon, the desktop entry), installed as the package
``restorer.resources`` (see pyproject's package-dir); find them with ``restorer.core.bundled.resource()``.
"""
