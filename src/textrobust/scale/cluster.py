"""Connecting to Ray: a clear one-line error when Ray is not installed or the cluster cannot be reached, a local
instance when no address is given, and the dashboard address when there is one."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'textrobust[ray]' (or: pip install 'ray[data]>=2.60,<3')"


def require_ray() -> Any:
    """The ``ray`` module, or a one-line :class:`ConfigError` saying what to install.

    Example:
        >>> ray = require_ray()  # doctest: +SKIP
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, when ``host:port`` does not answer (ray.init retries for a long time)."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start one with "
            "'ray start --head' or check the address"
        ) from None


class RayCluster:
    """Connect to the cluster at ``address`` (or start a local instance), and disconnect on exit if we connected.

    ``address=None`` starts a local Ray instance with ``num_cpus`` / ``num_gpus`` (default: what the machine has);
    ``"auto"`` joins the cluster this machine belongs to (``ray start --head`` ran here); ``HOST:PORT`` or
    ``ray://HOST:10001`` join a remote head. If Ray is already initialised in this process, it is used as it is.

    Example:
        >>> with RayCluster("auto") as cluster:  # doctest: +SKIP
        ...     print(cluster.dashboard_url)
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        include_dashboard: bool | None = None,
    ) -> None:
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self.include_dashboard = include_dashboard
        self.dashboard_url: str | None = None
        self._started = False

    def __enter__(self) -> RayCluster:
        ray = require_ray()
        if self.address:
            _check_reachable(self.address)
        if ray.is_initialized():
            self.dashboard_url = _dashboard(ray)
            return self
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            kwargs.update(num_cpus=self.num_cpus, num_gpus=self.num_gpus, include_dashboard=self.include_dashboard)
        try:
            ctx = ray.init(**kwargs)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot connect to {where}: {first}") from None
        self._started = True
        self.dashboard_url = getattr(ctx, "dashboard_url", None) or None
        if self.dashboard_url and not self.dashboard_url.startswith("http"):
            self.dashboard_url = f"http://{self.dashboard_url}"
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            require_ray().shutdown()

    def resources(self) -> dict[str, float]:
        """What the cluster has (``CPU``, ``GPU``, memory ...), for sizing shards and actors."""
        return dict(require_ray().cluster_resources())


def _dashboard(ray: Any) -> str | None:
    try:
        url = (
            ray.get_runtime_context().get_dashboard_url()
            if hasattr(ray.get_runtime_context(), "get_dashboard_url")
            else None
        )
    except Exception:  # noqa: BLE001 - the dashboard address is informative only
        url = None
    if url and not url.startswith("http"):
        url = f"http://{url}"
    return url or None
