"""The shipped models, installed as the package ``restorer.models`` (see pyproject's package-dir).

Only data lives here (weights, model cards, sample grids); find it with
``restorer.core.bundled.models_dir()``, which uses importlib.resources.
"""
