"""The simulator: outcomes, a clock-driven lifecycle, real media and exact sizes."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

import reelgate.sim
from reelgate import (
    ContentFilter,
    CreateVideo,
    Deleted,
    InvalidRequestError,
    NotFoundError,
    Variant,
    VideoError,
    VideoNotReadyError,
    VideoStatus,
)
from reelgate.provider import Call, ProviderRegistry
from reelgate.sim import SimProvider, SimSettings, media

pytestmark = pytest.mark.anyio

CALL = Call(instance="sim", operation="create", model="sim-1")
MP4 = media(Variant.VIDEO)


def _request(**extra: Any) -> CreateVideo:
    return CreateVideo(model="sim/sim-1", prompt="a paper boat", extra_params=extra)


@pytest.fixture(name="clock")
def _clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The simulator's clock, set by hand: ``clock.now`` in seconds."""
    clock = SimpleNamespace(now=1_700_000_000.0)
    monkeypatch.setattr(reelgate.sim, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


async def _bytes_of(sim: SimProvider, native: str, variant: Variant = Variant.VIDEO) -> bytes:
    async with sim.download(native, variant, call=CALL) as stream:
        data = await stream.read()
        assert stream.content_length == len(data)
        return data


def _boxes(data: bytes) -> list[tuple[bytes, int]]:
    """Walk an MP4's top-level boxes: (type, size) each; they must tile the file exactly."""
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
        assert size >= 8
        boxes.append((kind, size))
        at += size
    assert at == len(data)
    return boxes


async def test_a_job_runs_queued_then_in_progress_then_completed(clock) -> None:
    """State follows the clock: queued, rising progress, then completed at 100."""
    sim = SimProvider(SimSettings(duration=10.0, queued_fraction=0.2))
    start = clock.now
    video = await sim.create(_request(), call=CALL)
    assert (video.status, video.progress) == (VideoStatus.QUEUED, 0)
    assert (video.model, video.prompt, video.seconds, video.size) == (
        "sim-1",
        "a paper boat",
        "4",
        "1280x720",
    )
    assert video.created_at == int(start)
    seen = []
    for offset in (1.0, 2.5, 5.0, 9.9):
        clock.now = start + offset
        seen.append(await sim.retrieve(video.id, call=CALL))
    assert seen[0].status is VideoStatus.QUEUED
    progress = [v.progress for v in seen[1:]]
    assert all(v.status is VideoStatus.IN_PROGRESS for v in seen[1:])
    assert progress == sorted(progress)
    assert 0 < progress[0] < progress[-1] < 100
    clock.now = start + 10.0
    done = await sim.retrieve(video.id, call=CALL)
    assert (done.status, done.progress) == (VideoStatus.COMPLETED, 100)
    assert (done.created_at, done.completed_at, done.expires_at) == (
        int(start),
        int(start) + 10,
        int(start) + 3610,
    )


@pytest.mark.parametrize(
    ("outcome", "error", "content_filter"),
    [
        (
            "failed",
            VideoError("sim_failed", "the simulator failed this job on request"),
            None,
        ),
        (
            "content_filtered",
            VideoError("content_filtered", "the simulator filtered this job on request"),
            ContentFilter(1, ("the simulator filtered this job on request",)),
        ),
    ],
)
async def test_failed_outcomes(
    outcome: str, error: VideoError, content_filter: ContentFilter | None
) -> None:
    """sim_outcome makes a job fail, or be filtered with a filter report."""
    sim = SimProvider()
    video = await sim.create(_request(sim_outcome=outcome, sim_duration=0), call=CALL)
    assert video.status is VideoStatus.FAILED
    assert (video.error, video.content_filter) == (error, content_filter)
    again = await sim.retrieve(video.id, call=CALL)
    assert (again.status, again.error, again.content_filter) == (
        VideoStatus.FAILED,
        error,
        content_filter,
    )


async def test_state_lives_in_the_id() -> None:
    """Another simulator (another process) reads the same job from its id alone."""
    video = await SimProvider().create(_request(sim_duration=0), call=CALL)
    elsewhere = await SimProvider(SimSettings(duration=999)).retrieve(video.id, call=CALL)
    assert elsewhere.status is VideoStatus.COMPLETED
    assert elsewhere.created_at == video.created_at


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"sim_outcome": "exploded"}, "sim_outcome"),
        ({"sim_duration": "soon"}, "sim_duration"),
        ({"sim_duration": -1}, "sim_duration"),
        ({"sim_duration": "nan"}, "sim_duration"),
        ({"sim_duration": "inf"}, "sim_duration"),
        ({"sim_duration": [1]}, "sim_duration"),
        ({"sim_bytes": "big"}, "sim_bytes"),
        ({"sim_bytes": -5}, "sim_bytes"),
        ({"sim_bytes": 2**41}, "sim_bytes"),
    ],
)
async def test_bad_extra_params_are_invalid(extra: dict[str, Any], param: str) -> None:
    """Unknown outcomes, bad durations and bad sizes are InvalidRequestError on the param."""
    with pytest.raises(InvalidRequestError) as e:
        await SimProvider().create(_request(**extra), call=CALL)
    assert e.value.param == param


@pytest.mark.parametrize(
    "native",
    [
        "garbage",
        "",
        "sim_0_0_c_0_000000_0000",
        "sim_zz_0_x_0_000000_0000",
        "video_123",
    ],
)
async def test_made_up_ids_are_not_found(native: str) -> None:
    """Ids the simulator never issued are NotFoundError for every operation."""
    sim = SimProvider()
    with pytest.raises(NotFoundError):
        await sim.retrieve(native, call=CALL)
    with pytest.raises(NotFoundError):
        await _bytes_of(sim, native)
    with pytest.raises(NotFoundError):
        await sim.delete(native, call=CALL)
    with pytest.raises(NotFoundError):
        await sim.remix(native, "again", call=CALL)


async def test_a_tampered_id_is_not_found() -> None:
    """Changing any character of a real id makes it unknown (the checksum)."""
    video = await SimProvider().create(_request(sim_duration=0), call=CALL)
    body, _, check = video.id.rpartition("_")
    tampered = f"{body[:-1]}{'0' if body[-1] != '0' else '1'}_{check}"
    with pytest.raises(NotFoundError):
        await SimProvider().retrieve(tampered, call=CALL)


@pytest.mark.parametrize(
    ("variant", "content_type", "magic"),
    [
        (Variant.VIDEO, "video/mp4", lambda b: b[4:8] == b"ftyp"),
        (Variant.THUMBNAIL, "image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
        (Variant.SPRITESHEET, "image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ],
)
async def test_variants_are_real_media(variant: Variant, content_type: str, magic: Any) -> None:
    """Each variant streams the shipped file with its media type and magic bytes."""
    sim = SimProvider()
    video = await sim.create(_request(sim_duration=0, sim_bytes=10**6), call=CALL)
    async with sim.download(video.id, variant, call=CALL) as stream:
        assert stream.content_type == content_type
        data = await stream.read()
    assert magic(data)
    if variant is not Variant.VIDEO:
        assert data == media(variant)


@pytest.mark.parametrize("extra", [8, 9, 16, 17, 1000, 1 << 20])
async def test_sim_bytes_is_exact_and_still_an_mp4(extra: int) -> None:
    """sim_bytes pads the MP4 with one `free` box to exactly that many bytes."""
    sim = SimProvider()
    wanted = len(MP4) + extra
    video = await sim.create(_request(sim_duration=0, sim_bytes=wanted), call=CALL)
    data = await _bytes_of(sim, video.id)
    assert len(data) == wanted
    assert data.startswith(MP4)
    boxes = _boxes(data)
    assert boxes[0][0] == b"ftyp"
    assert boxes[-1] == (b"free", extra)


@pytest.mark.parametrize("wanted", [0, 1, len(MP4), len(MP4) + 7])
async def test_sizes_too_small_to_pad_give_the_plain_video(wanted: int) -> None:
    """Below the size of the video plus a box header, the plain video is served."""
    sim = SimProvider()
    video = await sim.create(_request(sim_duration=0, sim_bytes=wanted), call=CALL)
    assert await _bytes_of(sim, video.id) == MP4


def test_sizes_past_4_gib_use_a_64_bit_box() -> None:
    """A padded video over 4 GiB streams that many bytes, its free box 64-bit sized."""

    async def check() -> None:
        sim = SimProvider()
        wanted = 5 * 1024**3
        video = await sim.create(_request(sim_duration=0, sim_bytes=wanted), call=CALL)
        total, head = 0, b""
        async with sim.download(video.id, Variant.VIDEO, call=CALL) as stream:
            assert stream.content_length == wanted
            async for chunk in stream:
                if len(head) < len(MP4) + 16:
                    head += chunk
                total += len(chunk)
        assert total == wanted
        pad = head[len(MP4) : len(MP4) + 16]
        assert struct.unpack(">I4sQ", pad) == (1, b"free", wanted - len(MP4))

    anyio.run(check)


async def test_unfinished_jobs_cannot_be_downloaded_or_remixed() -> None:
    """Download and remix before completion are VideoNotReadyError."""
    sim = SimProvider(SimSettings(duration=600))
    video = await sim.create(_request(), call=CALL)
    with pytest.raises(VideoNotReadyError):
        await _bytes_of(sim, video.id)
    with pytest.raises(VideoNotReadyError):
        await sim.remix(video.id, "again", call=CALL)
    failed = await sim.create(_request(sim_outcome="failed", sim_duration=0), call=CALL)
    with pytest.raises(VideoNotReadyError):
        await _bytes_of(sim, failed.id)


async def test_remix_and_delete() -> None:
    """A remix is a new job naming its source; delete answers with the id."""
    sim = SimProvider()
    video = await sim.create(_request(sim_duration=0, sim_bytes=len(MP4) + 100), call=CALL)
    remixed = await sim.remix(video.id, "at night", call=CALL)
    assert remixed.id != video.id
    assert remixed.remixed_from_video_id == video.id
    assert remixed.prompt == "at night"
    done = await sim.retrieve(remixed.id, call=CALL)
    assert done.status is VideoStatus.COMPLETED
    assert len(await _bytes_of(sim, remixed.id)) == len(MP4) + 100
    assert await sim.delete(video.id, call=CALL) == Deleted(id=video.id)


async def test_ids_are_unique() -> None:
    """Jobs created in the same millisecond still get distinct ids."""
    sim = SimProvider()
    ids = {(await sim.create(_request(), call=CALL)).id for _ in range(50)}
    assert len(ids) == 50


def test_the_simulator_registers_through_the_hook() -> None:
    """sim registers itself like any plugin: no key, quick polls."""
    registry = ProviderRegistry()
    reelgate.sim.reelgate_register_providers(registry.for_plugin("sim"))
    spec = registry.specs["sim"]
    assert spec.requires_key is False
    assert spec.settings is SimSettings
    assert spec.poll_interval < 1
