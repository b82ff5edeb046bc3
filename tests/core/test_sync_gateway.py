"""SyncGateway: the gateway's methods for code without an event loop, blocking."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import reelgate.sim
from reelgate import (
    CreateVideo,
    InvalidRequestError,
    NotFoundError,
    SyncGateway,
    Variant,
    VideoNotReadyError,
    VideoStatus,
    media,
)
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex


def _plugins() -> Plugins:
    plugins = Plugins()
    plugins.register(reelgate.sim, name="sim")
    return plugins


@pytest.fixture(name="make_sync")
def _make_sync(http_client) -> Iterator[Callable[..., SyncGateway]]:
    """`make_sync(duration=0)`: a SyncGateway over the simulator, closed after the test."""
    made: list[SyncGateway] = []

    def make(duration: float = 0.0) -> SyncGateway:
        config = Config(
            instances=(
                InstanceConfig(
                    name="sim",
                    type="sim",
                    settings={"duration": duration, "poll_interval": 0.02},
                ),
            ),
            default_instances=False,
        )
        gateway = SyncGateway(
            lambda: Gateway(
                config, plugins=_plugins(), index=MemoryJobIndex(), http_client=http_client
            )
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def _request(**kwargs: object) -> CreateVideo:
    return CreateVideo(model="sim/sim-1", prompt="a paper boat", **kwargs)  # type: ignore[arg-type]


def test_the_whole_lifecycle_blocks(make_sync, tmp_path: Path) -> None:
    """create, retrieve, wait, download, download_to, remix, delete: all blocking."""
    gw = make_sync(duration=0.2)
    video = gw.create(_request())
    assert video.status is VideoStatus.QUEUED
    assert gw.retrieve(video.id).id == video.id
    updates: list[VideoStatus] = []
    done = gw.wait(video.id, timeout=30, on_update=lambda v: updates.append(v.status))
    assert done.status is VideoStatus.COMPLETED
    assert updates[-1] is VideoStatus.COMPLETED
    with gw.download(video.id) as stream:
        assert stream.content_type == "video/mp4"
        assert stream.content_length == len(media.sample(Variant.VIDEO))
        assert b"".join(stream) == media.sample(Variant.VIDEO)
    path = gw.download_to(video.id, tmp_path / "out.webp", variant="thumbnail")
    assert path.read_bytes() == media.sample(Variant.THUMBNAIL)
    remixed = gw.remix(video.id, "at night")
    assert remixed.remixed_from_video_id == video.id
    assert gw.delete(video.id).deleted is True
    with pytest.raises(NotFoundError):
        gw.retrieve(video.id)


def test_lists_and_iteration_block(make_sync) -> None:
    """list pages and iter_videos follows cursors, from plain code."""
    gw = make_sync()
    ids = [gw.create(_request()).id for _ in range(5)]
    page = gw.list("sim", limit=2)
    assert ([v.id for v in page.data], page.has_more) == ([ids[4], ids[3]], True)
    assert [v.id for v in gw.iter_videos("sim", page_size=2)] == ids[::-1]
    assert [v.id for v in gw.iter_videos("sim", order="asc", page_size=3)] == ids
    first_two = []
    for video in gw.iter_videos("sim", page_size=1):
        first_two.append(video.id)
        if len(first_two) == 2:
            break
    assert first_two == [ids[4], ids[3]]


def test_errors_arrive_as_they_are(make_sync) -> None:
    """The async gateway's errors reach blocking callers unchanged."""
    gw = make_sync(duration=600)
    with pytest.raises(InvalidRequestError, match="id:provider"):
        gw.retrieve("no-colon")
    with pytest.raises(InvalidRequestError, match="limit"):
        gw.list("sim", limit=0)
    video = gw.create(_request())
    with pytest.raises(VideoNotReadyError), gw.download(video.id):
        pass


def test_from_config_and_closing(tmp_path: Path, http_client) -> None:
    """from_config builds from a file; close is idempotent and stops the loop thread."""
    path = tmp_path / "reelgate.toml"
    path.write_text('[index]\nkind = "memory"\n[providers.sim]\nduration = 0\n')
    threads = threading.active_count()
    with SyncGateway.from_config(path, plugins=_plugins(), http_client=http_client) as gw:
        assert gw.create(_request()).status is VideoStatus.COMPLETED
        assert threading.active_count() > threads
    gw.close()
    assert threading.active_count() == threads


def test_a_failing_factory_stops_the_loop(http_client) -> None:
    """When the gateway cannot be built, the error is raised and no thread is left."""
    threads = threading.active_count()

    def broken() -> Gateway:
        raise InvalidRequestError("cannot build")

    with pytest.raises(InvalidRequestError, match="cannot build"):
        SyncGateway(broken)
    assert threading.active_count() == threads
