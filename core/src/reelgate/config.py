"""
Configuration: ``reelgate.toml`` and the environment.

A configuration names provider *instances*; each has a type (a registered provider type),
keys given as names of environment variables (never the keys themselves), and settings::

    [index]
    path = "~/.local/state/reelgate/jobs.sqlite3"   # or kind = "memory"
    # or PostgreSQL, shared by replicas: the URL is read from REELGATE_INDEX_URL, or from
    # the variable url_env names (a URL, password and all, is never written here)
    # url_env = "JOBS_DATABASE_URL"

    [providers.openai]
    type = "openai"
    api_key_env = "OPENAI_API_KEY"

    [providers.my-sora]
    type = "openai"
    base_url = "http://127.0.0.1:8090/v1"
    api_key_env = ["SORA_KEY_A", "SORA_KEY_B"]
    timeouts = { read = 120 }
    retry = { attempts = 5 }

Every installed provider type also gets an instance named after it, configured from its
well-known environment variables, unless a configured instance already has that name or
``[gateway] default_instances = false``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._redact import Secret
from .errors import ConfigurationError
from .ids import check_instance_name

__all__ = [
    "INDEX_URL_ENV",
    "Config",
    "IndexConfig",
    "InstanceConfig",
    "ProviderSettings",
    "RetryPolicy",
    "Secret",
    "ServerConfig",
    "Timeouts",
    "find_config_file",
    "load_config",
    "state_dir",
]


@attrs.frozen(kw_only=True)
class Timeouts:
    """
    Seconds to wait for each phase of an upstream request, and for all of it.

    Attributes:
        connect: Opening a connection.
        read: Each read: a response, or a download, that sends nothing for this long is
            cut.
        write: Each write.
        pool: Waiting for a free connection of the shared pool.
        total: One upstream call from start to end, its retries included, so an upstream
            trickling bytes cannot hold a request longer; for a download it bounds the
            opening, not the body. None: no overall bound.
    """

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0
    total: float | None = 300.0


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """
    How idempotent upstream requests are retried.

    Jittered exponential backoff that honours ``Retry-After``, bounded in attempts and in
    total time.

    Attributes:
        attempts: Tries in all, the first included; 1 disables retries.
        timeout: Seconds all tries may take together.
        wait_initial: The first backoff, in seconds.
        wait_max: The longest backoff.
        wait_jitter: Up to this many seconds of random jitter added to each backoff.
        max_retry_after: A ``Retry-After`` longer than this is not waited for: the error
            is raised at once, with ``retry_after`` set.
    """

    attempts: int = 3
    timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0


@attrs.frozen(kw_only=True)
class ProviderSettings:
    """
    Settings every provider instance has. A plugin subclasses this for its own.

    Attributes:
        base_url: The upstream API's base URL; the plugin's default when None.
        timeouts: Per-phase timeouts of upstream requests.
        retry: The retry policy of idempotent upstream requests.
        poll_interval: Seconds between polls in `wait`; the provider type's default when
            None.
    """

    base_url: str | None = None
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    poll_interval: float | None = None


@attrs.frozen(kw_only=True)
class InstanceConfig:
    """
    One configured provider instance, before its plugin structures the settings.

    Attributes:
        name: The instance name, the provider part of model strings and ids.
        type: The provider type.
        key_env: Environment variables holding this instance's keys, in order.
        settings: The remaining settings, as written.
    """

    name: str = attrs.field(validator=lambda _i, _a, v: check_instance_name(v))
    type: str
    key_env: tuple[str, ...] = ()
    settings: Mapping[str, Any] = attrs.field(factory=dict)


#: The variable holding a PostgreSQL job index's URL when ``[index] url_env`` names none.
INDEX_URL_ENV = "REELGATE_INDEX_URL"


@attrs.frozen(kw_only=True)
class IndexConfig:
    """
    Where the job index lives.

    ``kind`` is ``sqlite`` (at ``path``), ``memory`` or ``postgres`` (at the URL in the
    environment variable ``url_env`` names, else in ``REELGATE_INDEX_URL``). A relative
    ``path`` in a configuration file is relative to that file. A URL in the environment
    selects ``postgres`` without ``kind`` saying so, unless ``kind`` is ``memory``.
    """

    kind: str = "sqlite"
    path: Path | None = None
    url_env: str | None = None

    def url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """
        The PostgreSQL URL when the index is PostgreSQL, else None.

        Raises:
            ConfigurationError: ``kind = "postgres"`` or ``url_env`` without a URL in the
                environment, a URL that is not ``postgresql://``, or a URL beside an
                explicit ``sqlite`` or ``memory`` kind.
        """
        environ = os.environ if environ is None else environ
        name = self.url_env or INDEX_URL_ENV
        url = environ.get(name, "").strip()
        if not url:
            if self.kind == "postgres" or self.url_env:
                raise ConfigurationError(
                    f"the PostgreSQL job index needs its URL in ${name}, which is not set"
                )
            return None
        if self.kind == "memory":
            return None
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(f"${name} must hold a postgresql:// URL")
        return url


@attrs.frozen(kw_only=True)
class ServerConfig:
    """
    The ``[server]`` table: what ``reelgate serve`` allows beyond its defaults.

    Attributes:
        allowed_hosts: ``Host`` names a server without keys answers to besides
            127.0.0.1, localhost, [::1] and the address it is bound to.
        allow_private_urls: Fetch image URLs that resolve to private, loopback or
            link-local addresses (refused by default).
        max_concurrent_creates: Creates one key may have in flight at once.
        max_concurrent_downloads: Downloads one key may stream at once.
        header_timeout: Seconds a connection has to send a whole request head.
    """

    allowed_hosts: tuple[str, ...] = ()
    allow_private_urls: bool = False
    max_concurrent_creates: int = 16
    max_concurrent_downloads: int = 8
    header_timeout: float = 10.0


@attrs.frozen(kw_only=True)
class Config:
    """A whole configuration."""

    instances: tuple[InstanceConfig, ...] = ()
    index: IndexConfig = IndexConfig()
    default_instances: bool = True
    source: Path | None = None
    server: ServerConfig = ServerConfig()


def state_dir() -> Path:
    """Where reelgate keeps its state: ``$REELGATE_STATE_DIR``, else the XDG state dir."""
    if explicit := os.environ.get("REELGATE_STATE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "reelgate"


def find_config_file() -> Path | None:
    """``$REELGATE_CONFIG``, else ``./reelgate.toml``, else the user's config dir."""
    if explicit := os.environ.get("REELGATE_CONFIG"):
        return Path(explicit).expanduser()
    here = Path("reelgate.toml")
    if here.is_file():
        return here
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    user = Path(base) / "reelgate" / "reelgate.toml"
    return user if user.is_file() else None


def _key_env(name: str, table: Mapping[str, Any]) -> tuple[str, ...]:
    for forbidden in ("api_key", "api_keys", "key", "keys"):
        if forbidden in table:
            raise ConfigurationError(
                f"providers.{name}.{forbidden}: keys are never written in the configuration; "
                "name the environment variable that holds the key with api_key_env"
            )
    value = table.get("api_key_env", ())
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError(
            f"providers.{name}.api_key_env must be a variable name or a list of them"
        )
    return tuple(names)


def _table(data: Mapping[str, Any], name: str, keys: Collection[str] | None) -> Mapping[str, Any]:
    table = data.get(name)
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{name} must be a table")
    if keys is not None and (unknown := sorted(set(table) - set(keys))):
        raise ConfigurationError(f"unknown key(s) in [{name}]: {', '.join(unknown)}")
    return table


def _index_config(data: Mapping[str, Any], source: Path | None) -> IndexConfig:
    if "url" in _table(data, "index", None):
        raise ConfigurationError(
            "index.url: a database URL (and its password) is never written in the "
            "configuration; put it in an environment variable and name it with url_env"
        )
    index_table = _table(data, "index", ("kind", "path", "url_env"))
    kind = index_table.get("kind", "sqlite")
    if kind not in ("sqlite", "memory", "postgres"):
        raise ConfigurationError(f"index.kind must be sqlite, memory or postgres; got {kind!r}")
    url_env = index_table.get("url_env")
    if url_env is not None and not (
        isinstance(url_env, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", url_env)
    ):
        raise ConfigurationError(
            "index.url_env must name the environment variable holding the URL "
            "(never the URL itself)"
        )
    if url_env is not None and "kind" in index_table and kind != "postgres":
        raise ConfigurationError(f"index.url_env is for PostgreSQL, but index.kind is {kind}")
    path = index_table.get("path")
    if path is not None and not isinstance(path, str):
        raise ConfigurationError(f"index.path must be a string; got {path!r}")
    index_path = Path(path).expanduser() if path else None
    if index_path is not None and not index_path.is_absolute() and source is not None:
        index_path = source.parent / index_path  # beside the file, wherever reelgate runs
    return IndexConfig(kind=kind, path=index_path, url_env=url_env)


def _server_config(data: Mapping[str, Any]) -> ServerConfig:
    table = _table(data, "server", [f.name for f in attrs.fields(ServerConfig)])
    hosts = table.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise ConfigurationError("server.allowed_hosts must be a list of host names")
    private = table.get("allow_private_urls", False)
    if not isinstance(private, bool):
        raise ConfigurationError("server.allow_private_urls must be true or false")
    limits: dict[str, int] = {}
    for name in ("max_concurrent_creates", "max_concurrent_downloads"):
        if name in table:
            value = table[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"server.{name} must be a positive integer")
            limits[name] = value
    timeout = table.get("header_timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise ConfigurationError("server.header_timeout must be a number of seconds (0 to 600]")
    return ServerConfig(
        allowed_hosts=tuple(h.strip() for h in hosts),
        allow_private_urls=private,
        header_timeout=float(timeout),
        **limits,
    )


def parse_config(data: Mapping[str, Any], *, source: Path | None = None) -> Config:
    """
    Build a `Config` from a parsed TOML document.

    Raises:
        ConfigurationError: The document is not a valid configuration.
    """
    unknown = set(data) - {"providers", "index", "gateway", "server"}
    if unknown:
        raise ConfigurationError(
            f"unknown section(s) in configuration: {', '.join(sorted(unknown))}"
        )
    instances = []
    for name, table in _table(data, "providers", None).items():
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"providers.{name} must be a table")
        settings = {k: v for k, v in table.items() if k not in ("type", "api_key_env")}
        try:
            instances.append(
                InstanceConfig(
                    name=name,
                    type=str(table.get("type", name)),
                    key_env=_key_env(name, table),
                    settings=settings,
                )
            )
        except ConfigurationError:
            raise
        except Exception as e:  # noqa: BLE001  # an invalid instance name, reported as config
            raise ConfigurationError(f"providers.{name}: {e}") from None
    index = _index_config(data, source)
    default_instances = _table(data, "gateway", ("default_instances",)).get(
        "default_instances", True
    )
    if not isinstance(default_instances, bool):
        raise ConfigurationError(
            f"gateway.default_instances must be true or false; got {default_instances!r}"
        )
    return Config(
        instances=tuple(instances),
        index=index,
        default_instances=default_instances,
        source=source,
        server=_server_config(data),
    )


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """
    Read a configuration file.

    With no path, `find_config_file` decides; with none found, the configuration is empty
    (every installed provider with its environment defaults).

    Raises:
        ConfigurationError: The file cannot be read or is invalid.
    """
    found = Path(path) if path is not None else find_config_file()
    if found is None:
        return Config()
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read {found}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(f"{found} is not valid TOML: {e}") from None
    return parse_config(data, source=found)
