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
