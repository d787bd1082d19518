"""Where the shipped models and resources are: the packages ``restorer.models`` and ``restorer.resources``.

In the repository they are the top-level folders ``models/`` and ``resources/``; pyproject's
``package-dir`` installs them as those packages, so ``importlib.resources`` finds them the same way in
a wheel, after ``pip install .`` and after ``pip install -e .`` (whose finder maps the packages back to
the checkout's folders). A checkout that is only on ``sys.path`` (not installed) falls back to the
folders beside the source.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]


def _package_dir(package: str, folder: str) -> Path:
    try:
        found = importlib.resources.files(package)
    except ModuleNotFoundError:  # a source checkout on sys.path, not installed
        return _CHECKOUT / folder
    # Both are regular packages (with __init__.py) and wheels install unzipped: a plain folder.
    return found if isinstance(found, Path) else Path(str(found))


def models_dir() -> Path:
    """The folder of the shipped models (``face64.pt``, ...)."""
    return _package_dir("restorer.models", "models")


def resources_dir() -> Path:
    return _package_dir("restorer.resources", "resources")


def resource(name: str) -> Path:
    """A bundled resource by its path inside ``resources/``, e.g. ``"sample-photo.png"``."""
    return resources_dir() / name
