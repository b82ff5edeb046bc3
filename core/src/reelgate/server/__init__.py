"""
The HTTP server: reelgate's ``/v1/videos`` API as an ASGI app (extra ``reelgate[server]``).

Mount it in any ASGI application, or run it with ``reelgate serve``::

    from reelgate import Gateway
    from reelgate.server import create_app

    gateway = Gateway.from_config()
    app = create_app(gateway)                 # a Starlette app
    parent.mount("/reelgate", app)            # e.g. inside another Starlette/FastAPI app

Routes: ``POST/GET /v1/videos``, ``GET/DELETE /v1/videos/{video_id}``,
``GET /v1/videos/{video_id}/content``, ``POST /v1/videos/{video_id}/remix``, the same under
``/openai/v1/videos`` and ``/openai/videos`` for OpenAI SDKs, ``GET /health`` and
``GET /openapi.json``.

Keys: ``REELGATE_SERVER_KEYS`` names the environment variables that hold the keys callers
must send (``x-bf-vk``, else ``x-api-key``, else ``Authorization: Bearer``); each key owns
the jobs it creates. With no keys, anyone who can connect may call, so `run` binds to a
loopback address only, and the app answers only its own host names and refuses
cross-site requests (`reelgate.server.guard`).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp

from .. import outbound
from ..config import Secret
from ..errors import ConfigurationError
from ..gateway import Gateway
from .access import AccessLog, logging_config
from .app import build_app
from .auth import KEYS_ENV, ServerKeys, keys_from_environment
from .bodies import DEFAULT_MAX_BODY_BYTES
from .limits import HEADER_TIMEOUT, uvicorn_limits

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "KEYS_ENV",
    "AccessLog",
    "ServerKeys",
    "create_app",
    "is_loopback",
    "keys_from_environment",
    "run",
    "serve_app",
]

Keys = ServerKeys | Mapping[str, str] | Iterable[Secret]


def _server_keys(keys: Keys | None) -> ServerKeys:
    if keys is None:
        return ServerKeys(keys_from_environment())
    if isinstance(keys, ServerKeys):
        return keys
    return ServerKeys(keys)


def create_app(
    gateway: Gateway,
    *,
    keys: Keys | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    close_gateway: bool = False,
    allowed_hosts: Iterable[str] = (),
    watch: bool | Mapping[str, Any] = False,
) -> Starlette:
    """
    The ASGI app (a Starlette application) serving `gateway`.

    Args:
        gateway: The gateway to serve; it keeps working for the caller too.
        keys: The keys callers must present, as `Secret` values (named) or a mapping of
            name to key; each key's name owns the jobs it creates. None (the default)
            reads them from the environment (``REELGATE_SERVER_KEYS``); an empty mapping
            means no authentication.
        max_body_bytes: Request bodies larger than this are refused with a 400.
        close_gateway: Close `gateway` when the app's lifespan ends.
        allowed_hosts: Without keys, the app answers only requests whose ``Host`` is
            127.0.0.1, localhost, [::1], one of these or one of the gateway's
            ``[server] allowed_hosts``, and refuses cross-site requests (see
            `reelgate.server.guard`).
        watch: Run the gateway's watcher (`reelgate.Gateway.watch`) during the app's
            lifespan, driving every unfinished job to its end in the background; a
            mapping runs it with these options (``concurrency``, ``lease``, ...).

    Returns:
        The Starlette application.

    Raises:
        ConfigurationError: The keys are unusable (empty, repeated, or a named variable
            is unset).
    """
    if max_body_bytes < 1:
        raise ConfigurationError("max_body_bytes must be positive")
    return build_app(
        gateway,
        keys=_server_keys(keys),
        max_body_bytes=max_body_bytes,
        close_gateway=close_gateway,
        allowed_hosts=(*gateway.config.server.allowed_hosts, *allowed_hosts),
        watch=watch,
    )


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (``127.0.0.0/8``, ``::1`` or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(
    *,
    config_path: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    keys: Keys | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    log_level: str = "info",
    allowed_hosts: Iterable[str] = (),
    watch: bool | Mapping[str, Any] = True,
) -> None:
    """
    Serve a gateway under uvicorn until interrupted: what ``reelgate serve`` runs.

    The gateway is built from `config_path` (``reelgate.toml`` by default) and the
    environment, and closed when the server stops.

    Args:
        config_path: The configuration file.
        host: The address to listen on; must be a loopback address when no keys are set.
        port: The port.
        keys: As for `create_app`; None reads ``REELGATE_SERVER_KEYS``.
        max_body_bytes: Request bodies larger than this are refused with a 400.
        log_level: The log level of uvicorn and of the access log (one line per request
            at ``info``; ``warning`` turns it off).
        allowed_hosts: More ``Host`` names a server without keys answers to (``--allow-host``).
        watch: Run the watcher (`reelgate.Gateway.watch`) while serving; a mapping
            runs it with these options (e.g. ``{"lease": 30}``).

    Raises:
        ConfigurationError: No keys are configured and `host` is not a loopback address,
            or the configuration or keys are invalid.
    """
    server_keys = _server_keys(keys)
    if not server_keys:
        if not is_loopback(host):
            raise ConfigurationError(
                f"refusing to listen on {host}: no server keys are configured, so anyone who "
                f"can connect could use the providers' keys; set {KEYS_ENV} to the names of "
                "environment variables holding keys, or listen on 127.0.0.1"
            )
        sys.stderr.write(
            f"reelgate: no server keys are configured ({KEYS_ENV} is unset), so the server is "
            f"bound to {host} only and callers are not authenticated\n"
        )
    else:
        names = ", ".join(server_keys.names)
        sys.stderr.write(f"reelgate: {len(server_keys.names)} server key(s): {names}\n")
    gateway = Gateway.from_config(config_path)
    outbound.allow_private_urls(gateway.config.server.allow_private_urls)
    app = create_app(
        gateway,
        keys=server_keys,
        max_body_bytes=max_body_bytes,
        close_gateway=True,
        allowed_hosts=(host, *allowed_hosts),
        watch=watch,
    )
    serve_app(
        AccessLog(app),
        host=host,
        port=port,
        log_level=log_level,
        header_timeout=gateway.config.server.header_timeout,
    )


def serve_app(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    header_timeout: float = HEADER_TIMEOUT,
) -> None:
    """
    Run an ASGI app under uvicorn as `run` runs reelgate's (one worker, same settings).

    uvicorn's access log is off: `run` wraps its app in `AccessLog`, which writes a
    cheaper and richer line on the ``reelgate.server.access`` logger, configured here.
    The benchmarks serve their bare floor route through this function, so that both
    stand on the same server configuration. Connections must send each request head
    within `header_timeout` seconds (see `reelgate.server.limits`).
    """
    import uvicorn  # noqa: PLC0415  # an extra: only server users need it

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=logging_config(log_level),
        access_log=False,
        **uvicorn_limits(header_timeout),
    )
