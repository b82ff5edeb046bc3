"""Fixtures of the core's tests: both async backends, throwaway providers and gateways."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import httpx2
import pytest

import reelgate
import reelgate.sim
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import make_client
from reelgate.plugins import Plugins
from reelgate.provider import Call, DownloadStream, ProviderSetup, ProviderSpec
from reelgate.store import JobIndex, MemoryJobIndex


class ThrowawayPlugin:
    """A plugin object registering the given provider specs through the real hook."""

    def __init__(self, *specs: ProviderSpec) -> None:
        self.specs = specs

    @reelgate.hookimpl
    def reelgate_register_providers(self, registry: reelgate.ProviderRegistry) -> None:
        """Register every spec this plugin was made with."""
        for spec in self.specs:
            registry.add(spec)


@attrs.define
class FakeProvider:
    """
    A scripted provider: creates, retrieves, downloads, deletes and remixes in memory.

    Attributes:
        create_errors: Raised, one per call, by the next creates (then creates succeed).
        states: Native id -> the videos successive retrieves return (the last repeats);
            an exception in the list is raised by that retrieve.
        chunks: Native id -> the chunks a download streams; an exception in the list is
            raised at that point of the stream.
        calls: (operation, native id or model, name of the key used) for each call.
    """

    name: str = "fake"
    create_errors: list[BaseException] = attrs.field(factory=list)
    states: dict[str, list[reelgate.Video]] = attrs.field(factory=dict)
    chunks: dict[str, list[bytes | BaseException]] = attrs.field(factory=dict)
    calls: list[tuple[str, str | None, str | None]] = attrs.field(factory=list)
    _ids: Iterator[int] = attrs.field(factory=itertools.count)

    def _record(self, op: str, subject: str | None, call: Call) -> None:
        self.calls.append((op, subject, call.key.name if call.key else None))

    def script(self, native_id: str, *videos: reelgate.Video) -> None:
        """Make retrieves of `native_id` return `videos` in turn."""
        self.states[native_id] = list(videos)

    async def create(self, request: reelgate.CreateVideo, *, call: Call) -> reelgate.Video:
        """Start a job whose native id has a slash and a colon in it."""
        self._record("create", call.model, call)
        await anyio.lowlevel.checkpoint()  # let concurrent creates interleave
        if self.create_errors:
            raise self.create_errors.pop(0)
        native = f"jobs/{self.name}:{next(self._ids)}"
        video = reelgate.Video(id=native, status="queued", progress=0, created_at=1_700_000_000)
        self.states.setdefault(native, [video])
        return video

    async def retrieve(self, video_id: str, *, call: Call) -> reelgate.Video:
        """The next scripted state."""
        self._record("retrieve", video_id, call)
        states = self.states.get(video_id)
        if not states:
            raise reelgate.NotFoundError(f"no job {video_id!r}")
        state = states.pop(0) if len(states) > 1 else states[0]
        if isinstance(state, BaseException):
            raise state
        return state

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """Stream the scripted chunks."""
        self._record("download", video_id, call)
        parts = self.chunks.get(video_id, [b"fake-video"])

        async def chunks() -> AsyncIterator[bytes]:
            for part in parts:
                if isinstance(part, BaseException):
                    raise part
                yield part

        yield DownloadStream(content_type="video/mp4", content_length=None, chunks=chunks())

    async def delete(self, video_id: str, *, call: Call) -> reelgate.Deleted:
        """Forget nothing: the gateway's index remembers the deletion."""
        self._record("delete", video_id, call)
        return reelgate.Deleted(id=video_id)

    async def remix(self, video_id: str, prompt: str, *, call: Call) -> reelgate.Video:
        """A new job naming its source by native id."""
        self._record("remix", video_id, call)
        native = f"remix/{next(self._ids)}"
        video = reelgate.Video(id=native, status="queued", remixed_from_video_id=video_id)
        self.states[native] = [video]
        return video


@attrs.define
class ListingFakeProvider(FakeProvider):
    """A `FakeProvider` with a native list of the jobs it created, newest first."""

    async def list(self, query: reelgate.ListQuery, *, call: Call) -> reelgate.VideoPage:
        """A native page: `after` is a native id."""
        self._record("list", query.after, call)
        ids = [i for i in reversed(self.states) if not i.startswith("remix/")]
        if query.order == "asc":
            ids.reverse()
        start = ids.index(query.after) + 1 if query.after is not None else 0
        window = ids[start : start + query.limit + 1]
        page = [self.states[i][0] for i in window[: query.limit]]
        return reelgate.VideoPage(tuple(page), len(window) > query.limit)


def fake_spec(provider: FakeProvider, **kwargs: Any) -> ProviderSpec:
    """A spec of type `provider.name` whose factory hands out `provider`."""

    def factory(setup: ProviderSetup) -> FakeProvider:
        return provider

    kwargs.setdefault("requires_key", False)
    kwargs.setdefault("poll_interval", 1.0)
    return ProviderSpec(type=provider.name, factory=factory, **kwargs)


GatewayFactory = Callable[..., Gateway]


@pytest.fixture(name="http_client", scope="session")
def _http_client() -> Iterator[httpx2.AsyncClient]:
    """One idle HTTP client for every test gateway: making one costs tens of ms (TLS)."""
    client = make_client()
    yield client
    anyio.run(client.aclose)


@pytest.fixture(name="make_gateway")
async def _make_gateway(http_client: httpx2.AsyncClient) -> AsyncIterator[GatewayFactory]:
    """
    Build gateways over the simulator and throwaway providers; closed after the test.

    ``make_gateway(*specs, instances=(...), index=None)``: the simulator is configured
    as instance ``sim`` with instant jobs; each spec gets an instance named after its
    type; `instances` adds configured instances.
    """
    made: list[Gateway] = []
    registered: list[tuple[Plugins, ThrowawayPlugin]] = []

    def make(
        *specs: ProviderSpec,
        instances: Sequence[InstanceConfig] = (),
        index: JobIndex | None = None,
        sim_duration: float = 0.0,
    ) -> Gateway:
        plugins = Plugins()
        assert plugins.register(reelgate.sim, name="sim")
        throwaway = ThrowawayPlugin(*specs)
        assert plugins.register(throwaway, name="throwaway")
        registered.append((plugins, throwaway))
        configured = [
            InstanceConfig(name="sim", type="sim", settings={"duration": sim_duration}),
            *(InstanceConfig(name=s.type, type=s.type, key_env=s.key_env) for s in specs),
            *instances,
        ]
        config = Config(instances=tuple(configured), default_instances=False)
        gateway = Gateway(
            config, plugins=plugins, index=index or MemoryJobIndex(), http_client=http_client
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()
    for plugins, throwaway in registered:
        plugins.unregister(throwaway)
        assert "throwaway" not in plugins.names


@pytest.fixture(name="fake")
def _fake() -> FakeProvider:
    """A fresh scripted provider of type ``fake``."""
    return FakeProvider()


@pytest.fixture(name="fake_factory")
def _fake_factory() -> Callable[..., FakeProvider]:
    """Make scripted providers: ``fake_factory("name", listing=False)``."""

    def make(name: str = "fake", *, listing: bool = False) -> FakeProvider:
        return (ListingFakeProvider if listing else FakeProvider)(name=name)

    return make


@pytest.fixture(name="fake_spec")
def _fake_spec() -> Callable[..., ProviderSpec]:
    """`fake_spec(provider, **spec_fields)`: a spec that hands out `provider`."""
    return fake_spec
