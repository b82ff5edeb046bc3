"""
What keeps web pages away from a server without keys.

A keyless server (the default, bound to 127.0.0.1) trusts whoever can connect, and a
browser on the same machine can connect: a page may post a "simple" cross-site request
(no preflight) or rebind its own DNS name to 127.0.0.1 and read the answers. So a keyless
server answers only requests whose ``Host`` is one of its own names (421 otherwise),
refuses any request a browser marks as coming from another site (an ``Origin`` that is
not the server's own, ``Sec-Fetch-Site: cross-site``), and refuses the bodies a page can
send without a preflight other than multipart (``text/plain``, form-urlencoded): 403.

The checks read the request's headers once, before routing: a few microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_NAMES", "BrowserGuard", "host_name"]

#: The names a loopback server always answers to.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})

# The content types a page may post cross-site without a preflight, multipart apart
# (multipart is the OpenAI SDK's create; the Origin check covers it).
_SIMPLE_BODIES = (b"text/plain", b"application/x-www-form-urlencoded")


_READ = frozenset({b"host", b"origin", b"sec-fetch-site", b"content-type"})


def host_name(authority: str) -> str:
    """The host of a ``Host`` header or origin authority, lower-cased, without its port."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        return authority[: end + 1] if end > 0 else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _names(hosts: Iterable[str]) -> frozenset[str]:
    names = set(LOOPBACK_NAMES)
    for host in hosts:
        name = host.strip().lower()
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"  # a bare IPv6 address, as a Host header writes it
        if name:
            names.add(name)
    return frozenset(names)


def _refusal(status: int, message: str) -> bytes:
    body = {
        "is_bifrost_error": True,
        "status_code": status,
        "error": {
            "type": "invalid_request_error",
            "code": "cross_site_refused",
            "message": message,
        },
        "extra_fields": {},
    }
    return json.dumps(body, separators=(",", ":")).encode()


class BrowserGuard:
    """
    ASGI middleware refusing requests a web page could make to a keyless server.

    Args:
        app: The server's app.
        hosts: Names the server answers to beyond 127.0.0.1, localhost and [::1] (the
            bound host, ``--allow-host``, ``[server] allowed_hosts``).
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.names = _names(hosts)

    def _refused(self, scope: Scope) -> tuple[int, str] | None:
        headers = {name: value for name, value in scope["headers"] if name in _READ}
        host, origin = headers.get(b"host", b""), headers.get(b"origin", b"")
        site, media = headers.get(b"sec-fetch-site", b""), headers.get(b"content-type", b"")
        authority = host.decode("latin-1")
        if host_name(authority) not in self.names:
            return 421, (
                "this server does not answer to that Host; a server without keys answers "
                "only to its own names (add others with --allow-host)"
            )
        if origin:
            scheme, _, rest = origin.decode("latin-1").partition("://")
            if scheme not in ("http", "https") or rest.lower() != authority.strip().lower():
                return 403, "cross-site requests are refused by a server without keys"
        if site == b"cross-site":
            return 403, "cross-site requests are refused by a server without keys"
        if media and media.split(b";", 1)[0].strip().lower() in _SIMPLE_BODIES:
            return 403, (
                "Content-Type must be application/json or multipart/form-data; a server "
                "without keys refuses bodies a web page can send cross-site"
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request (421 or 403, the wire's error body), or pass it on."""
        if scope["type"] == "http" and (refused := self._refused(scope)) is not None:
            status, message = refused
            body = _refusal(status, message)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-should-retry", b"false"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
