"""
URLs a caller hands reelgate to fetch (an image input), checked before anything connects.

A server that fetches what its callers name can be pointed at its own network: the cloud
metadata address, a database on localhost, a router's admin page. So a fetched URL's host
is resolved first and refused when any address it resolves to is not public (private,
loopback, link-local, multicast, reserved or unspecified), unless private URLs are
allowed: ``[server] allow_private_urls = true`` for ``reelgate serve``, or
``REELGATE_ALLOW_PRIVATE_URLS=1`` in the environment (tests against local emulators).

Every refusal and every failure of the fetch itself reads the same to the caller
(`FETCH_FAILED`): different texts for "refused", "connection refused" and "timed out"
would let a caller map the server's network port by port.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

import anyio

from .errors import InvalidRequestError

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "FETCH_FAILED",
    "FETCH_TIMEOUT",
    "allow_private_urls",
    "check_fetchable",
    "fetch_failed",
    "is_public_address",
]

#: The environment variable that allows fetching private addresses (``1``/``true``).
ALLOW_PRIVATE_ENV = "REELGATE_ALLOW_PRIVATE_URLS"
#: The one text of every failed fetch of a caller's URL (``{param}`` is the field).
FETCH_FAILED = "could not fetch {param}: the URL did not serve an image reelgate can use"
#: Seconds a whole fetch of a caller's URL may take, resolution included.
FETCH_TIMEOUT = 30.0

_allowed = False


def allow_private_urls(allowed: bool) -> None:  # a switch, named by its function
    """Allow (or forbid again) fetching URLs on private addresses, process-wide."""
    global _allowed  # noqa: PLW0603  # one process-wide policy, set once at start-up
    _allowed = allowed


def _private_allowed() -> bool:
    return _allowed or os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true")


def fetch_failed(param: str) -> InvalidRequestError:
    """The error of any failed fetch of `param`'s URL: always the same text."""
    return InvalidRequestError(FETCH_FAILED.format(param=param), param=param)


def is_public_address(address: str) -> bool:
    """Whether an IP address is public (not private, loopback, link-local, reserved...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_fetchable(url: str, param: str) -> None:
    """
    Refuse a URL whose host resolves to any address that is not public.

    Args:
        url: The http(s) URL a caller gave.
        param: The request field it came from (named in the error).

    Raises:
        InvalidRequestError: `FETCH_FAILED`: the URL is malformed, its host does not
            resolve, or resolves to an address that is not public (and private URLs are
            not allowed).
    """
    if _private_allowed():
        return
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise fetch_failed(param) from None
    if not host or parts.scheme not in ("http", "https"):
        raise fetch_failed(param)
    try:
        with anyio.fail_after(FETCH_TIMEOUT):
            found = await anyio.getaddrinfo(
                host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError, UnicodeError):
        raise fetch_failed(param) from None
    addresses = [str(entry[4][0]) for entry in found]
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise fetch_failed(param)
