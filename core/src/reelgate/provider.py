"""
What a provider is: its operations, the spec it registers, the stream it downloads.

A provider instance implements any of `create`, `retrieve`, `list`, `download`,
`delete` and `remix`; its capabilities are exactly the methods it has. Providers work in
*native* ids (the gateway qualifies and parses ``id:instance``), return core types, and
raise only `reelgate.errors` types.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import attrs

from .config import ProviderSettings, Secret
from .errors import PluginError, ProviderError, ReelgateError
from .ids import check_instance_name

if TYPE_CHECKING:
    from .http import Upstream
    from .model import CreateVideo, Deleted, ListQuery, Variant, Video, VideoPage

__all__ = [
    "OPERATIONS",
    "Call",
    "DownloadStream",
    "Provider",
    "ProviderRegistry",
    "ProviderSetup",
    "ProviderSpec",
    "capabilities_of",
]

#: Every operation a provider may implement, in the order reelgate lists them.
OPERATIONS = ("create", "retrieve", "list", "download", "delete", "remix")


@attrs.frozen(kw_only=True)
class Call:
    """
    What the gateway tells a provider about one operation.

    Attributes:
        instance: The provider instance name.
        request_type: ``video_generation``, ``video_retrieve``, ``video_list``,
            ``video_download``, ``video_delete`` or ``video_remix``.
        key: The API key to use: for an existing job, the key that created it.
        model: The native model name (create only).
    """

    instance: str
    request_type: str
    key: Secret | None = None
    model: str | None = None


@attrs.define
class DownloadStream:
    """
    A finished asset, streamed: iterate it for chunks of bytes.

    The whole asset is never held in memory. When the provider announced a length and the
    stream ends short of it, iteration raises `ProviderError`; so does any failure of the
    provider's that is not a reelgate error.

    Attributes:
        content_type: The asset's media type, e.g. ``video/mp4``.
        content_length: Its size in bytes, when the provider said.
        provider: The provider instance, for errors (the gateway fills it in).
    """

    content_type: str
    content_length: int | None
    _chunks: AsyncIterator[bytes] = attrs.field(alias="chunks", repr=False)
    provider: str | None = attrs.field(default=None, kw_only=True)
    _received: int = attrs.field(default=0, init=False, repr=False)
    _done: bool = attrs.field(default=False, init=False, repr=False)

    @property
    def received(self) -> int:
        """Bytes delivered so far."""
        return self._received

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        while not self._done:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                if self.content_length is not None and self._received < self.content_length:
                    raise self._error(
                        f"download cut off after {self._received} of {self.content_length} bytes"
                    ) from None
                break
            except ReelgateError as e:
                if e.provider is None:
                    e.provider = self.provider
                raise
            except Exception as e:
                raise self._error(f"download failed: {type(e).__name__}") from e
            if chunk:
                self._received += len(chunk)
                return chunk
        raise StopAsyncIteration

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, provider=self.provider, request_type="video_download")

    async def aclose(self) -> None:
        """Stop the stream and release what the provider holds for it (done on exit)."""
        self._done = True
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()

    async def read(self) -> bytes:
        """Read the whole asset into memory (for small assets such as thumbnails)."""
        return b"".join([chunk async for chunk in self])


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
        async def remix(self, video_id: str, prompt: str, *, call: Call) -> Video

    ``video_id`` and the ids in what they return are native ids; ``ListQuery.after``
    is native too. ``aclose()``, if present, is awaited when the gateway closes.
    """


class SupportsCreate(Protocol):
    """A provider that can create jobs."""

    async def create(self, request: CreateVideo, *, call: Call) -> Video: ...


class SupportsRetrieve(Protocol):
    """A provider that can read a job."""

    async def retrieve(self, video_id: str, *, call: Call) -> Video: ...


class SupportsList(Protocol):
    """A provider with a native list endpoint."""

    async def list(self, query: ListQuery, *, call: Call) -> VideoPage: ...


class SupportsDownload(Protocol):
    """A provider that can stream a finished asset."""

    def download(
        self, video_id: str, variant: Variant, *, call: Call
    ) -> AbstractAsyncContextManager[DownloadStream]: ...


class SupportsDelete(Protocol):
    """A provider that can delete (or cancel) a job."""

    async def delete(self, video_id: str, *, call: Call) -> Deleted: ...


class SupportsRemix(Protocol):
    """A provider that can remix a finished job."""

    async def remix(self, video_id: str, prompt: str, *, call: Call) -> Video: ...


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
