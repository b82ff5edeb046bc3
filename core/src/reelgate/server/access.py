"""
The access log of ``reelgate serve``: one line per request, cheap, with fields to query.

uvicorn's own access log is off under ``reelgate serve``; this layer writes instead, on
the ``reelgate.server.access`` logger, a line such as::

    2026-12-03 21:20:01,512 GET /v1/videos/abc:sim 200 0.84ms client=127.0.0.1:40674 key=KEY_A

(the key is the *name* of the server key the caller presented, never the key), and puts
the same values on the log record (``method``, ``path``, ``status``, ``duration_ms``,
``client``, ``key``) for a structured handler to emit as fields.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OWNER_SCOPE_KEY", "AccessLog", "logging_config"]

log = logging.getLogger("reelgate.server.access")

#: Where a handler leaves the name of the caller's key in the ASGI scope, for the line.
OWNER_SCOPE_KEY = "reelgate.key"


class AccessLog:
    """
    An ASGI layer that logs each HTTP request once it is answered.

    Args:
        app: The application to wrap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log it (also when the app failed: status 500)."""
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _log_request(scope, status, time.perf_counter() - started)


def _log_request(scope: Scope, status: int, elapsed: float) -> None:
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope["path"]
    if query := scope.get("query_string"):
        path = f"{path}?{query.decode('latin-1')}"
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else "-"
    key = scope.get(OWNER_SCOPE_KEY) or "-"
    ms = round(elapsed * 1000, 2)
    method = scope["method"]
    # makeRecord and handle, not log.info: the caller's frame (which logging looks up
    # for every record) is always this function, and the lookup is most of the cost.
    record = log.makeRecord(
        log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %d %.2fms client=%s key=%s",
        (method, path, status, ms, address, key),
        None,
    )
    record.method, record.path, record.status = method, path, status
    record.duration_ms, record.client, record.key = ms, address, key
    log.handle(record)


def logging_config(log_level: str) -> dict[str, Any]:
    """
    The logging configuration: uvicorn's, with the access log written by `AccessLog`.

    The lines go to standard output, as uvicorn's access lines do.
    """
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415  # an extra: only when serving

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "formatters": {
            **LOGGING_CONFIG["formatters"],
            "reelgate_access": {"format": "%(asctime)s %(message)s"},
        },
        "handlers": {
            **LOGGING_CONFIG["handlers"],
            "reelgate_access": {
                "formatter": "reelgate_access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            log.name: {
                "handlers": ["reelgate_access"],
                "level": log_level.upper(),
                "propagate": False,
            },
        },
    }
    return config
