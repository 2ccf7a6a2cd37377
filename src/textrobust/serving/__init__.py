"""Serve a classifier over HTTP (``textrobust.serving``): an ASGI app on uvicorn with dynamic batching, limits,
health, readiness and Prometheus metrics (``docs/serve.md``).

Only :class:`ServeConfig` loads with the package; the server itself (Starlette, uvicorn, numpy) loads on first use,
so ``textrobust --help`` stays instant.

Example:
    >>> from textrobust.serving import ServeConfig, serve
    >>> server = serve(my_model, ServeConfig(port=0), background=True)  # doctest: +SKIP
    >>> RemoteModel(server.url + "predict").predict_proba(["a fine film"])  # doctest: +SKIP
    >>> server.shutdown()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .config import ServeConfig

__all__ = ["ModelServer", "ServeConfig", "create_app", "serve"]

_LAZY = {"ModelServer": "server", "serve": "server", "create_app": "app"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
