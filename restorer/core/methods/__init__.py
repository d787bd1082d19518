"""The fill-method registry: every module in this package that defines ``METHOD`` is a method.

Adding a method is adding one file here (see ``base.py``); everything that lists or runs methods
reads this registry. Besides the methods there are two routers, which pick a method per region:
``auto`` (thin scratches to diffusion, wide damage to the patch fill, compact holes inside a face
box to the face model) and ``classic`` (the same without a model).
"""

from __future__ import annotations

import importlib
import pkgutil

from restorer.core.errors import RestorerError
from restorer.core.methods.base import FillMethod, FillOutput, FillRequest, FrameBatch, check_method_class

__all__ = [
    "ROUTERS",
    "FillMethod",
    "FillOutput",
    "FillRequest",
    "FrameBatch",
    "choices",
    "get",
    "method_for_model",
    "methods",
]

ROUTERS = {
    "auto": "thin scratches: diffusion; wide damage: patch fill; compact holes inside the face box: "
    "the face model",
    "classic": "thin scratches: diffusion; wide damage: patch fill; never a model",
}

_found: dict[str, FillMethod] | None = None
_searched: tuple[str, ...] = ()


def methods() -> dict[str, FillMethod]:
    """Every method by name, in display order (found once per search path)."""
    global _found, _searched
    path = tuple(__path__)
    if _found is None or path != _searched:
        found: list[FillMethod] = []
        for info in pkgutil.iter_modules(list(path)):
            if info.name.startswith("_") or info.name == "base":
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "METHOD"):
                found.append(check_method_class(module.METHOD, module.__name__))
        found.sort(key=lambda m: (m.order, m.name))
        names = [m.name for m in found]
        clash = {n for n in names if names.count(n) > 1} | (set(names) & set(ROUTERS))
        if clash:
            raise RestorerError(f"two fill methods are called {sorted(clash)[0]!r}")
        _found, _searched = {m.name: m for m in found}, path
    return _found


def get(name: str) -> FillMethod:
    found = methods()
    if name not in found:
        raise RestorerError(f"unknown fill method {name!r} (use one of {', '.join(found)})")
    return found[name]


def choices() -> tuple[str, ...]:
    """What a user may ask for: the routers, then every method."""
    return (*ROUTERS, *methods())


def method_for_model(kind: str) -> FillMethod:
    """The method that uses models of ``kind`` (the face method auto routes to)."""
    for method in methods().values():
        if method.model_kind == kind:
            return method
    raise RestorerError(f"no fill method uses {kind} models")
