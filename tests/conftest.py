"""Shared test setup: headless Qt, and settings/data isolated in a temp dir."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The tests' networks are tiny: one thread avoids OpenMP hand-off costs that dominate them on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the real user's models, settings and autosave folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RESTORER_USER_MODELS", str(home / "models"))
    monkeypatch.setenv("RESTORER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


TOY_METHOD_SOURCE = '''
"""A toy fill method: the mean colour of the known pixels (for registry tests)."""

from restorer.core.methods.base import FillMethod, single


class MeanColourFill(FillMethod):
    name = "toy"
    label = "Toy: mean colour"
    summary = "paints the hole with the mean colour of the known pixels"
    order = 90

    def fill(self, request):
        out = request.window.copy()
        out[request.unknown] = request.window[~request.unknown].mean(axis=0)
        return single(request, out, {"toy": True})


METHOD = MeanColourFill()
'''


@pytest.fixture
def toy_method(tmp_path_factory, monkeypatch):
    """A fill method added the way a developer adds one: one new file in the methods package's path."""
    import restorer.core.methods as registry

    folder = tmp_path_factory.mktemp("plugins")
    (folder / "toy.py").write_text(TOY_METHOD_SOURCE)
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(folder)])
    monkeypatch.setattr(registry, "_found", None)
    yield "toy"
    import sys

    sys.modules.pop("restorer.core.methods.toy", None)
    registry._found = None
