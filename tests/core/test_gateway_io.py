"""The gateway over time and files: wait, downloads, configuration and a shared index."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import reelgate.gateway
import reelgate.sim
from reelgate import (
    ConfigurationError,
    CreateVideo,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    Variant,
    Video,
    VideoNotReadyError,
    VideoStatus,
    WaitTimeoutError,
    media,
)
from reelgate.config import state_dir
from reelgate.gateway import Gateway
from reelgate.ids import VideoId
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex, SQLiteJobIndex

pytestmark = pytest.mark.anyio

NATIVE = "jobs/fake:0"


class FakeClock:
    """Stands in for anyio in the gateway: time moves only when the gateway sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def current_time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await anyio.lowlevel.checkpoint()

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)


@pytest.fixture(name="clock")
def _clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for the gateway's waiting; nothing really sleeps."""
    clock = FakeClock()
    monkeypatch.setattr(reelgate.gateway, "anyio", clock)
    return clock


def _listing(directory: Path) -> list[str]:
    """The names in a directory (a plain function: async tests may not block on paths)."""
    return sorted(p.name for p in directory.iterdir())


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _state(status: str, progress: float | None = None, poll_after: float | None = None) -> Video:
    return Video(id=NATIVE, status=status, progress=progress, poll_after=poll_after)  # type: ignore[arg-type]


async def _job(make_gateway, fake, fake_spec, *states: Video) -> tuple[Gateway, str]:
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(CreateVideo(model="fake/m", prompt="p"))
    fake.script(NATIVE, *states)
    return gateway, video.id


# -- wait -----------------------------------------------------------------------------------


async def test_wait_returns_the_finished_job(make_gateway, fake, fake_spec, clock) -> None:
    """Polls back off from the provider's interval until the job completes."""
    states = [_state("queued"), _state("in_progress", 40), _state("in_progress", 80)]
    gateway, video_id = await _job(make_gateway, fake, fake_spec, *states, _state("completed"))
    seen: list[Video] = []
    done = await gateway.wait(video_id, on_update=seen.append)
    assert done.status is VideoStatus.COMPLETED
    assert done.progress == 100
    assert [v.status.value for v in seen] == ["queued", "in_progress", "in_progress", "completed"]
    assert clock.sleeps == pytest.approx([1.0, 1.5, 2.25])


async def test_wait_returns_failed_jobs_without_raising(
    make_gateway, fake, fake_spec, clock
) -> None:
    """A failed job is returned; raise_for_status is the caller's choice."""
    gateway, video_id = await _job(make_gateway, fake, fake_spec, _state("failed"))
    done = await gateway.wait(video_id)
    assert done.status is VideoStatus.FAILED
    assert clock.sleeps == []


async def test_wait_follows_the_providers_hints(make_gateway, fake, fake_spec, clock) -> None:
    """A poll_after hint decides the next wait; without one the backoff goes on."""
    gateway, video_id = await _job(
        make_gateway,
        fake,
        fake_spec,
        _state("queued", poll_after=7.0),
        _state("in_progress", 10, poll_after=0.5),
        _state("in_progress", 20),
        _state("completed"),
    )
    await gateway.wait(video_id)
    assert clock.sleeps == pytest.approx([7.0, 0.5, 2.25])


async def test_a_zero_hint_still_pauses(make_gateway, fake, fake_spec, clock) -> None:
    """A provider hinting 0 s does not make wait poll in a tight loop."""
    gateway, video_id = await _job(
        make_gateway, fake, fake_spec, _state("in_progress", poll_after=0.0), _state("completed")
    )
    await gateway.wait(video_id)
    assert clock.sleeps == pytest.approx([0.01])


class _HangsAfterFirstPoll:
    """Wraps a scripted provider: every poll after the first never answers."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.polls = 0

    async def retrieve(self, video_id: str, *, call: Any) -> Video:
        self.polls += 1
        if self.polls > 1:
            await anyio.sleep_forever()
        return await self.inner.retrieve(video_id, call=call)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_poll_that_hangs_past_the_deadline_ends_the_wait(
    make_gateway, fake, fake_spec
) -> None:
    """A retrieve that hangs does not outlast the wait's timeout: the last state is kept."""
    hanging = _HangsAfterFirstPoll(fake)
    gateway = make_gateway(fake_spec(hanging))
    video = await gateway.create(CreateVideo(model="fake/m", prompt="p"))
    fake.script(NATIVE, _state("in_progress", 30))
    with pytest.raises(WaitTimeoutError) as caught:
        await gateway.wait(video.id, timeout=0.2, poll_interval=0.05)
    assert caught.value.video.progress == 30
    assert hanging.polls == 2


async def test_wait_backs_off_to_a_ceiling(make_gateway, fake, fake_spec, clock) -> None:
    """Backoff grows by half each poll, up to five times the base interval."""
    gateway, video_id = await _job(
        make_gateway, fake, fake_spec, *[_state("in_progress")] * 8, _state("completed")
    )
    await gateway.wait(video_id, poll_interval=2.0)
    assert clock.sleeps == pytest.approx([2.0, 3.0, 4.5, 6.75, 10.0, 10.0, 10.0, 10.0])


async def test_wait_times_out_with_the_last_state(make_gateway, fake, fake_spec, clock) -> None:
    """Out of time, wait raises WaitTimeoutError carrying the last video; the last sleep is cut."""
    gateway, video_id = await _job(
        make_gateway, fake, fake_spec, _state("queued"), _state("in_progress", 35)
    )
    with pytest.raises(WaitTimeoutError) as e:
        await gateway.wait(video_id, timeout=10.0)
    assert e.value.message == f"video {video_id} is still in_progress after 10 s"
    assert e.value.video.id == video_id
    assert (e.value.video.status, e.value.video.progress) == (VideoStatus.IN_PROGRESS, 35)
    assert e.value.provider == "fake"
    assert clock.sleeps == pytest.approx([1.0, 1.5, 2.25, 3.375, 1.875])
    assert sum(clock.sleeps) == pytest.approx(10.0)


async def test_a_hint_past_the_deadline_is_cut(make_gateway, fake, fake_spec, clock) -> None:
    """A poll_after longer than the time left waits only until the deadline."""
    gateway, video_id = await _job(
        make_gateway, fake, fake_spec, _state("in_progress", poll_after=300.0)
    )
    with pytest.raises(WaitTimeoutError):
        await gateway.wait(video_id, timeout=5.0)
    assert clock.sleeps == [5.0]


async def test_wait_with_no_time_polls_once(make_gateway, fake, fake_spec, clock) -> None:
    """timeout=0 looks once and raises if the job is not done."""
    gateway, video_id = await _job(make_gateway, fake, fake_spec, _state("queued"))
    with pytest.raises(WaitTimeoutError):
        await gateway.wait(video_id, timeout=0)
    assert clock.sleeps == []
    assert [c[0] for c in fake.calls] == ["create", "retrieve"]


# -- download ---------------------------------------------------------------------------------


async def test_download_streams_the_asset(make_gateway) -> None:
    """A completed job's video streams with its type and exact length."""
    gateway = make_gateway()
    video = await gateway.create(CreateVideo(model="sim/sim-1", prompt="p"))
    async with gateway.download(video.id) as stream:
        assert (stream.content_type, stream.content_length) == (
            "video/mp4",
            len(media.sample(Variant.VIDEO)),
        )
        assert await stream.read() == media.sample(Variant.VIDEO)
    async with gateway.download(video.id, "sprite_sheet") as stream:
        assert stream.content_type == "image/jpeg"


async def test_download_before_completion_is_not_ready(make_gateway) -> None:
    """An unfinished job answers 409."""
    gateway = make_gateway(sim_duration=600)
    video = await gateway.create(CreateVideo(model="sim/sim-1", prompt="p"))
    with pytest.raises(VideoNotReadyError) as e:
        async with gateway.download(video.id):
            pass
    assert e.value.status_code == 409
    assert (e.value.provider, e.value.request_type) == ("sim", "video_download")


async def test_download_to_writes_the_file(make_gateway, tmp_path: Path) -> None:
    """download_to writes every byte, reports progress and leaves nothing else behind."""
    gateway = make_gateway()
    size = 3 * 1024 * 1024 + 17
    request = CreateVideo(model="sim/sim-1", prompt="p", extra_params={"sim_bytes": size})
    video = await gateway.create(request)
    progress: list[tuple[int, int | None]] = []
    target = tmp_path / "out.mp4"
    written = await gateway.download_to(
        video.id, target, on_progress=lambda got, total: progress.append((got, total))
    )
    assert written == target
    assert target.stat().st_size == size
    assert target.read_bytes()[: len(media.sample(Variant.VIDEO))] == media.sample(Variant.VIDEO)
    assert progress[-1] == (size, size)
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert _listing(tmp_path) == ["out.mp4"]
    thumb = await gateway.download_to(video.id, str(tmp_path / "t.webp"), variant="thumbnail")
    assert thumb.read_bytes() == media.sample(Variant.THUMBNAIL)


async def test_download_to_is_atomic(make_gateway, fake, fake_spec, tmp_path: Path) -> None:
    """A stream failing midway leaves the old file as it was and no temporary file."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(CreateVideo(model="fake/m", prompt="p"))
    fake.chunks[NATIVE] = [b"a" * 2_000_000, b"b" * 10, ProviderError("cut off")]
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"the previous video")
    with pytest.raises(ProviderError, match="cut off"):
        await gateway.download_to(video.id, target)
    assert target.read_bytes() == b"the previous video"
    assert _listing(tmp_path) == ["keep.mp4"]
    fresh = tmp_path / "fresh.mp4"
    with pytest.raises(ProviderError):
        await gateway.download_to(video.id, fresh)
    assert not fresh.exists()
    assert _listing(tmp_path) == ["keep.mp4"]


async def test_download_to_leaves_one_partial_name_per_target(
    make_gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial left by a killed process is the one name the next attempt overwrites."""
    gateway = make_gateway()
    video = await gateway.create(CreateVideo(model="sim/sim-1", prompt="p"))
    target = tmp_path / "out.mp4"
    leftover = tmp_path / ".out.mp4.part"
    leftover.write_bytes(b"x" * 10_000_000)  # what kill -9 mid-download leaves
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    await gateway.download_to(video.id, target)
    assert target.read_bytes() == media.sample(Variant.VIDEO)
    assert _listing(tmp_path) == ["out.mp4"]
    assert len(synced) == (2 if hasattr(os, "O_DIRECTORY") else 1)  # the file, the directory


async def test_download_to_refuses_bad_variants_first(make_gateway, tmp_path: Path) -> None:
    """An unknown variant is a 400 before any file is touched."""
    gateway = make_gateway()
    video = await gateway.create(CreateVideo(model="sim/sim-1", prompt="p"))
    with pytest.raises(InvalidRequestError, match="variant"):
        await gateway.download_to(video.id, tmp_path / "x", variant="audio")
    assert _listing(tmp_path) == []


async def test_a_provider_failing_mid_stream_is_a_provider_error(
    make_gateway, fake, fake_spec, tmp_path: Path
) -> None:
    """An exception not from reelgate, raised while streaming, becomes a ProviderError."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(CreateVideo(model="fake/m", prompt="p"))
    fake.chunks[NATIVE] = [b"part", RuntimeError("plugin bug")]
    with pytest.raises(ProviderError):
        await gateway.download_to(video.id, tmp_path / "out.mp4")


# -- configuration and a shared index ---------------------------------------------------------


def _sim_plugins() -> Plugins:
    plugins = Plugins()
    plugins.register(reelgate.sim, name="sim")
    return plugins


@pytest.mark.parametrize("kind", ["memory", "sqlite", "default"])
async def test_from_config_builds_the_named_index(kind: str, tmp_path: Path, http_client) -> None:
    """reelgate.toml picks the index: in memory, an SQLite file, or one in the state dir."""
    index_table = {
        "memory": '[index]\nkind = "memory"\n',
        "sqlite": f'[index]\npath = "{tmp_path / "my" / "jobs.db"}"\n',
        "default": "",
    }[kind]
    path = tmp_path / "reelgate.toml"
    path.write_text(f'{index_table}[providers.fast]\ntype = "sim"\nduration = 0\n')
    async with Gateway.from_config(path, plugins=_sim_plugins(), http_client=http_client) as gw:
        assert set(gw.instances) == {"fast", "sim"}
        video = await gw.create(CreateVideo(model="fast/sim-1", prompt="p"))
        assert video.status is VideoStatus.COMPLETED
        if kind == "memory":
            assert isinstance(gw.index, MemoryJobIndex)
        else:
            assert isinstance(gw.index, SQLiteJobIndex)
            expected = (
                tmp_path / "my" / "jobs.db" if kind == "sqlite" else state_dir() / "jobs.sqlite3"
            )
            assert gw.index.path == expected
            assert expected.exists()


async def test_from_config_finds_the_file_and_loads_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_client
) -> None:
    """With no arguments, ./reelgate.toml and the entry points are used."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REELGATE_PLUGINS", "sim")
    _write(Path("reelgate.toml"), '[index]\nkind = "memory"\n[gateway]\ndefault_instances = true\n')
    async with Gateway.from_config(http_client=http_client) as gw:
        assert list(gw.instances) == ["sim"]
        assert gw.plugins.names == ["sim"]
        assert gw.plugin_failures == []


async def test_from_config_refuses_a_broken_file(tmp_path: Path) -> None:
    """A broken reelgate.toml is a ConfigurationError before anything is built."""
    path = tmp_path / "reelgate.toml"
    path.write_text("[providers.sim]\napi_key = 'sk-live-0123456789'\n")
    with pytest.raises(ConfigurationError, match="api_key_env"):
        Gateway.from_config(path, plugins=_sim_plugins())


async def test_two_gateways_share_one_sqlite_file(make_gateway, tmp_path: Path) -> None:
    """A job made through one gateway is seen, polled, downloaded and deleted by another."""
    path = tmp_path / "jobs.db"
    first = make_gateway(index=SQLiteJobIndex(path))
    second = make_gateway(index=SQLiteJobIndex(path))
    video = await first.create(CreateVideo(model="sim/sim-1", prompt="p", idempotency_key="once"))
    seen = await second.retrieve(video.id)
    assert (seen.id, seen.status, seen.prompt) == (video.id, VideoStatus.COMPLETED, "p")
    assert (await second.wait(video.id)).status is VideoStatus.COMPLETED
    assert [v.id for v in (await second.list("sim")).data] == [video.id]
    again = await second.create(CreateVideo(model="sim/sim-1", prompt="p", idempotency_key="once"))
    assert again.id == video.id
    out = await second.download_to(video.id, tmp_path / "out.mp4")
    assert out.read_bytes() == media.sample(Variant.VIDEO)
    await first.delete(video.id)
    with pytest.raises(NotFoundError):
        await second.retrieve(video.id)
    assert (await second.list("sim")).data == ()


async def test_a_job_from_another_process_is_recorded_when_seen(make_gateway) -> None:
    """A valid id this gateway never created is retrieved and recorded."""
    maker = make_gateway()
    video = await maker.create(CreateVideo(model="sim/sim-1", prompt="p"))
    stranger = make_gateway()
    assert (await stranger.retrieve(video.id)).status is VideoStatus.COMPLETED
    assert [v.id for v in (await stranger.list("sim")).data] == [video.id]
    with pytest.raises(NotFoundError):
        await stranger.retrieve(VideoId.build("sim_0_0_c_0_000000_0000", "sim"))


async def test_download_to_cleans_up_when_cancelled(
    make_gateway, tmp_path: Path, anyio_backend: str, request: pytest.FixtureRequest
) -> None:
    """Cancelled midway, download_to leaves neither the file nor its temporary file."""
    gateway = make_gateway()
    request = CreateVideo(model="sim/sim-1", prompt="p", extra_params={"sim_bytes": 4 << 20})
    video = await gateway.create(request)
    with anyio.CancelScope() as scope:
        await gateway.download_to(
            video.id, tmp_path / "out.mp4", on_progress=lambda got, total: scope.cancel()
        )
    assert scope.cancelled_caught
    assert _listing(tmp_path) == []


class _Racing:
    """Wraps a scripted provider: a create takes a while, so racing callers overlap."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.creates = 0

    async def create(self, request: CreateVideo, *, call: Any) -> Video:
        self.creates += 1
        await anyio.sleep(0.2)
        return await self.inner.create(request, call=call)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_processes_racing_one_idempotency_key_create_once(
    make_gateway, fake, fake_spec, tmp_path: Path
) -> None:
    """Two processes racing one idempotency key: one create upstream, both callers get it."""
    racing = _Racing(fake)
    path = tmp_path / "jobs.db"
    one = make_gateway(fake_spec(racing), index=SQLiteJobIndex(path))
    two = make_gateway(fake_spec(racing), index=SQLiteJobIndex(path))
    got: dict[str, Video] = {}

    async def create(name: str, gateway: Gateway) -> None:
        request = CreateVideo(model="fake/m", prompt="p", idempotency_key="k")
        got[name] = await gateway.create(request, owner="alice")

    async with anyio.create_task_group() as tg:
        tg.start_soon(create, "one", one)
        tg.start_soon(create, "two", two)
    assert racing.creates == 1
    assert got["one"].id == got["two"].id
    for gateway in (one, two):
        assert (await gateway.retrieve(got["one"].id, owner="alice")).id == got["one"].id
