"""
What a provider is: its operations, the spec it registers, the stream it downloads.

A provider instance implements any of `create`, `retrieve`, `list`, `download`,
`delete` and `remix`; its capabilities are exactly the methods it has. Providers work in
*native* ids (the gateway qualifies and parses ``id:instance``), return core types, and
raise only `reelgate.errors` types.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from .call import OPERATIONS, Call, Operation, ProviderState
from .config import ProviderSettings
from .errors import PluginError
from .ids import check_instance_name
from .stream import DownloadStream

if TYPE_CHECKING:
    from .http import Upstream
    from .model import CreateVideo, Deleted, ListQuery, Variant, Video, VideoPage

__all__ = [
    "OPERATIONS",
    "Call",
    "Operation",
    "Provider",
    "ProviderRegistry",
    "ProviderSetup",
    "ProviderSpec",
    "ProviderState",
    "SupportsCancel",
    "SupportsCreate",
    "SupportsDelete",
    "SupportsDownload",
    "SupportsList",
    "SupportsRemix",
    "SupportsRetrieve",
    "capabilities_of",
]


@runtime_checkable
class Provider(Protocol):
    """
    A provider instance. Every operation is optional; see `capabilities_of`.

    The operations, each async and each taking a `Call` as ``call``::

        async def create(self, request: CreateVideo, *, call: Call) -> Video
        async def retrieve(self, video_id: str, *, call: Call) -> Video
        async def list(self, query: ListQuery, *, call: Call) -> VideoPage
        def download(self, video_id: str, variant: Variant, *, call: Call)
            -> AbstractAsyncContextManager[DownloadStream]
        async def delete(self, video_id: str, *, call: Call) -> Deleted
        async def cancel(self, video_id: str, *, call: Call) -> None
        async def remix(self, video_id: str, prompt: str, *, call: Call) -> Video

    ``delete`` removes the job upstream (cancelling it first where it runs) and says
    which happened in `Deleted.upstream`; a provider that can only stop a running job
    implements ``cancel`` instead. The gateway's delete always forgets the job.

    ``video_id`` and the ids in what they return are native ids; ``ListQuery.after``
    is native too. ``aclose()``, if present, is awaited when the gateway closes.
    """


class SupportsCreate(Protocol):
    """A provider that can create jobs."""

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        """Start a job; the returned video has the native id."""


class SupportsRetrieve(Protocol):
    """A provider that can read a job."""

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        """The job's current state."""


class SupportsList(Protocol):
    """A provider with a native list endpoint."""

    async def list(self, query: ListQuery, *, call: Call) -> VideoPage:
        """One page of jobs, natively."""


class SupportsDownload(Protocol):
    """A provider that can stream a finished asset."""

    def download(
        self, video_id: str, variant: Variant, *, call: Call
    ) -> AbstractAsyncContextManager[DownloadStream]:
        """Stream a finished job's asset."""


class SupportsDelete(Protocol):
    """A provider that can delete a job upstream (cancelling it first if it runs)."""

    async def delete(self, video_id: str, *, call: Call) -> Deleted:
        """Delete the job upstream; say what happened."""


class SupportsCancel(Protocol):
    """A provider that can stop a running job but not delete it."""

    async def cancel(self, video_id: str, *, call: Call) -> None:
        """Stop a running job."""


class SupportsRemix(Protocol):
    """A provider that can remix a finished job."""

    async def remix(self, video_id: str, prompt: str, *, call: Call) -> Video:
        """Start a new job from a finished one."""


def capabilities_of(provider: object) -> frozenset[str]:
    """The operations `provider` implements."""
    return frozenset(op for op in OPERATIONS if callable(getattr(provider, op, None)))


@attrs.frozen(kw_only=True)
class ProviderSetup:
    """
    Everything a provider factory gets to build one instance.

    Attributes:
        name: The instance name (``openai``, ``my-sora``...).
        settings: The instance's settings, of the spec's settings class.
        upstream: A request helper bound to the instance's base URL, timeouts and retry
            policy, over the gateway's shared HTTP client.
    """

    name: str
    settings: ProviderSettings
    upstream: Upstream


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """
    A provider type, as a plugin registers it.

    Attributes:
        type: The type name; also the entry-point name and the default instance name.
        factory: Builds an instance from a `ProviderSetup`.
        settings: The settings class (a subclass of `ProviderSettings`).
        key_env: Environment variables read, in order, for the default API key.
        env: Setting name -> environment variable giving its default.
        requires_key: False for providers that need no key (the simulator).
        poll_interval: Seconds between polls `wait` starts from, unless the provider
            hints otherwise.
        description: One line for ``reelgate providers``.
    """

    type: str = attrs.field(validator=lambda _i, _a, v: check_instance_name(v))
    factory: Callable[[ProviderSetup], object]
    settings: builtins.type[ProviderSettings] = ProviderSettings
    key_env: tuple[str, ...] = attrs.field(default=(), converter=_names)
    env: Mapping[str, str] = attrs.field(factory=dict)
    requires_key: bool = True
    poll_interval: float = 5.0
    description: str = ""


@attrs.define
class ProviderRegistry:
    """Handed to each plugin's ``reelgate_register_providers`` hook; checks what it gets."""

    _specs: dict[str, ProviderSpec] = attrs.field(factory=dict, alias="specs")
    _plugin: str | None = attrs.field(default=None, alias="plugin")
    _origins: dict[str, str] = attrs.field(factory=dict, init=False)

    def add(self, spec: ProviderSpec) -> None:
        """
        Register a provider type.

        Raises:
            PluginError: The argument is not a `ProviderSpec`, or its type is taken.
        """
        if not isinstance(spec, ProviderSpec):
            raise PluginError(
                f"plugin {self._plugin!r} registered {spec!r}, which is not a ProviderSpec"
            )
        if spec.type in self._specs:
            raise PluginError(
                f"provider type {spec.type!r} from {self._plugin!r} is already registered "
                f"by {self._origins.get(spec.type)!r}"
            )
        self._specs[spec.type] = spec
        self._origins[spec.type] = self._plugin or "?"

    def for_plugin(self, plugin: str) -> ProviderRegistry:
        """A view of this registry that records `plugin` as the origin of what it adds."""
        view = ProviderRegistry(specs=self._specs, plugin=plugin)
        view._origins = self._origins
        return view

    @property
    def specs(self) -> Mapping[str, ProviderSpec]:
        """Every registered type by name."""
        return dict(self._specs)

    def origin(self, type: str) -> str | None:
        """The plugin that registered `type`."""
        return self._origins.get(type)
