"""
Who is calling: the server's keys and the caller each request authenticates as.

Keys are never written in a file. ``REELGATE_SERVER_KEYS`` names the environment
variables that hold them (``REELGATE_SERVER_KEYS=TEAM_A_KEY,TEAM_B_KEY``), the way
``api_key_env`` names provider keys in ``reelgate.toml``. A key's *name* (the variable's
name) is what the job index records as a job's owner, and what logs may show; the key
itself is compared in constant time and never stored.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping

import attrs

from ..config import Secret
from ..errors import AuthenticationError, ConfigurationError

__all__ = ["KEYS_ENV", "ServerKeys", "keys_from_environment"]

#: The environment variable naming the variables that hold the server's keys.
KEYS_ENV = "REELGATE_SERVER_KEYS"

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = (
    "an API key is required: send x-bf-vk: <key>, x-api-key: <key> or Authorization: Bearer <key>"
)


def keys_from_environment(environ: Mapping[str, str] | None = None) -> tuple[Secret, ...]:
    """
    The server's keys: the values of the variables ``REELGATE_SERVER_KEYS`` names.

    Args:
        environ: The environment to read (default: ``os.environ``).

    Returns:
        One `Secret` per named variable, named after it; empty when the variable is unset.

    Raises:
        ConfigurationError: A name is not a variable name, or a named variable is unset or
            empty (the server refuses to start rather than run with fewer keys than meant).
    """
    env = os.environ if environ is None else environ
    raw = env.get(KEYS_ENV, "")
    names = [part.strip() for part in raw.split(",") if part.strip()]
    keys: list[Secret] = []
    for name in names:
        if not _VARIABLE.fullmatch(name):
            # Never echo the text: it may be a key pasted in by mistake.
            raise ConfigurationError(
                f"{KEYS_ENV} lists the names of environment variables that hold the keys "
                f"(e.g. {KEYS_ENV}=TEAM_A_KEY,TEAM_B_KEY); entry {len(keys) + 1} is not a "
                "variable name"
            )
        value = env.get(name, "")
        if not value.strip():
            raise ConfigurationError(f"{KEYS_ENV} names {name}, which is unset or empty")
        keys.append(Secret(value.strip(), name=name))
    return tuple(keys)


def _as_secrets(keys: Mapping[str, str] | Iterable[Secret]) -> tuple[Secret, ...]:
    if isinstance(keys, Mapping):
        return tuple(Secret(value, name=name) for name, value in keys.items())
    return tuple(keys)


@attrs.frozen
class ServerKeys:
    """
    The keys callers authenticate with; each names the owner of the jobs it creates.

    Args:
        keys: `Secret` values (their names become owners), or a mapping of name to key.

    Raises:
        ConfigurationError: A key is empty, or two keys share a name or a value.
    """

    keys: tuple[Secret, ...] = attrs.field(converter=_as_secrets)

    def __attrs_post_init__(self) -> None:
        names: set[str] = set()
        values: set[str] = set()
        for key in self.keys:
            if not key.reveal():
                raise ConfigurationError("server keys must be non-empty strings")
            if key.name in names:
                raise ConfigurationError(f"two server keys are named {key.name!r}")
            if key.reveal() in values:
                raise ConfigurationError(f"server key {key.name!r} repeats another key")
            names.add(key.name)
            values.add(key.reveal())

    def __bool__(self) -> bool:
        return bool(self.keys)

    @property
    def names(self) -> tuple[str, ...]:
        """The keys' names (the owners of jobs)."""
        return tuple(key.name for key in self.keys)

    def owner(self, headers: Mapping[str, str]) -> str | None:
        """
        The owner a request authenticates as, or None when the server has no keys.

        The key is read in the reference gateway's order: ``x-bf-vk``, else ``x-api-key``,
        else ``Authorization: Bearer`` (so a client may send a provider's key in
        ``Authorization`` and the server's key in ``x-bf-vk``).

        Raises:
            AuthenticationError: Keys are configured and the request has none, or a wrong one.
        """
        if not self.keys:
            return None
        presented = _presented(headers)
        if presented is None:
            raise AuthenticationError(_MISSING)
        found: str | None = None
        given = presented.encode()
        for key in self.keys:
            # Compare with every key so the time taken says nothing about which matched.
            if hmac.compare_digest(given, key.reveal().encode()):
                found = key.name
        if found is None:
            raise AuthenticationError("invalid API key")
        return found


def _presented(headers: Mapping[str, str]) -> str | None:
    for name in ("x-bf-vk", "x-api-key"):
        if value := headers.get(name, "").strip():
            return value
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
