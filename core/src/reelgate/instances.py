"""
Provider instances: what a configuration and the installed plugins make together.

`build_instances` turns each configured (or default) instance into a `ProviderInstance`:
its provider type's settings structured and checked, its keys read from the environment,
an `Upstream` over the shared HTTP client, and the plugin's factory called. An instance
that cannot be built is reported by name, and the others are built all the same.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from .config import Config, InstanceConfig, Secret
from .errors import AuthenticationError, ReelgateError
from .provider import ProviderSetup, ProviderSpec, capabilities_of

if TYPE_CHECKING:
    import httpx2

__all__ = ["ProviderInstance", "build_instances"]


@attrs.define(kw_only=True)
class ProviderInstance:
    """
    A configured provider instance.

    Attributes:
        name: The instance name (the provider part of model strings and ids).
        type: The provider type.
        provider: The object implementing the operations.
        keys: The instance's keys; a job keeps the one that created it.
        poll_interval: Seconds between polls in `Gateway.wait`, before backoff.
        requires_key: Whether operations need a key.
        key_env: Where keys are read from, for the message when none is set.
        origin: The plugin that registered the type.
    """

    name: str
    type: str
    provider: object
    keys: tuple[Secret, ...] = ()
    poll_interval: float = 5.0
    requires_key: bool = False
    key_env: tuple[str, ...] = ()
    origin: str | None = None
    description: str = ""
    _rotation: Iterator[int] = attrs.field(init=False, repr=False)
    _capabilities: frozenset[str] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._rotation = itertools.cycle(range(len(self.keys))) if self.keys else iter(())
        # Read once: every operation checks it, and a provider's methods do not change.
        self._capabilities = capabilities_of(self.provider)

    @property
    def capabilities(self) -> frozenset[str]:
        """The operations the provider implements."""
        return self._capabilities

    def _missing_key(self) -> AuthenticationError:
        where = " or ".join(self.key_env) or "api_key_env in reelgate.toml"
        return AuthenticationError(
            f"no API key for provider {self.name!r}: set {where}", provider=self.name
        )

    def next_key(self) -> Secret | None:
        """The key for a new job: the instance's keys in turn."""
        if not self.keys:
            if self.requires_key:
                raise self._missing_key()
            return None
        return self.keys[next(self._rotation)]

    def key_named(self, name: str | None) -> Secret | None:
        """The key that created a job; the first key when it is unknown or gone."""
        for key in self.keys:
            if key.name == name:
                return key
        if not self.keys:
            if self.requires_key:
                raise self._missing_key()
            return None
        return self.keys[0]


def _keys(configured: tuple[str, ...], defaults: tuple[str, ...]) -> tuple[Secret, ...]:
    """
    Read an instance's keys from the environment.

    Variables named in the configuration are all keys, used in turn; a provider's default
    variables are alternatives (``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``): the first
    one set is the key.
    """
    found = tuple(
        Secret(value, name=var) for var in configured or defaults if (value := os.environ.get(var))
    )
    return found if configured else found[:1]


def build_instances(
    config: Config,
    specs: Mapping[str, ProviderSpec],
    client: httpx2.AsyncClient | Callable[[str], httpx2.AsyncClient],
    origin: Callable[[str], str | None],
) -> tuple[dict[str, ProviderInstance], dict[str, str]]:
    """
    Build every configured instance, and one per installed type unless turned off.

    Args:
        config: The configuration.
        specs: The registered provider types by name.
        client: The HTTP client every instance shares, or a function giving each instance
            (by name) its own.
        origin: Which plugin registered a type.

    Returns:
        The instances by name, and why each instance that could not be built failed.
    """
    from . import wire  # noqa: PLC0415  # the converter is only needed to structure settings
    from .http import Upstream  # noqa: PLC0415  # keeps httpx2 out of `import reelgate`

    wanted = list(config.instances)
    if config.default_instances:
        taken = {i.name for i in wanted}
        wanted += [
            InstanceConfig(name=spec.type, type=spec.type)
            for spec in specs.values()
            if spec.type not in taken
        ]
    instances: dict[str, ProviderInstance] = {}
    problems: dict[str, str] = {}
    for ic in wanted:
        spec = specs.get(ic.type)
        if spec is None:
            installed = ", ".join(sorted(specs)) or "none"
            problems[ic.name] = (
                f"provider type {ic.type!r} is not installed (installed: {installed}); "
                f"try: pip install reelgate-{ic.type}"
            )
            continue
        raw = dict(ic.settings)
        for setting, variable in spec.env.items():
            if setting not in raw and (value := os.environ.get(variable)):
                raw[setting] = value
        try:
            settings = wire.structure_settings(raw, spec.settings, path=f"providers.{ic.name}")
            keys = _keys(ic.key_env, spec.key_env)
            upstream = Upstream(
                client=client(ic.name) if callable(client) else client,
                base_url=settings.base_url or "",
                instance=ic.name,
                retry=settings.retry,
                timeouts=settings.timeouts,
            )
            provider = spec.factory(
                ProviderSetup(name=ic.name, settings=settings, upstream=upstream)
            )
        except ReelgateError as e:
            problems[ic.name] = e.message
            continue
        except Exception as e:  # noqa: BLE001  # a plugin's factory must not stop the others
            problems[ic.name] = f"provider factory failed: {type(e).__name__}: {e}"
            continue
        instances[ic.name] = ProviderInstance(
            name=ic.name,
            type=spec.type,
            provider=provider,
            keys=keys,
            poll_interval=settings.poll_interval or spec.poll_interval,
            requires_key=spec.requires_key,
            key_env=ic.key_env or spec.key_env,
            origin=origin(spec.type),
            description=spec.description,
        )
    return instances, problems
