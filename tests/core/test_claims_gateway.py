"""
Claim before create, in the gateway, and the watcher.

One create upstream per idempotency key, the 409s, the outcome-unknown case, jobs spooled
when the index cannot record them, the watcher and its leases.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from reelgate import (
    ConflictError,
    CreateVideo,
    IndexUnavailableError,
    InvalidRequestError,
    ProviderError,
    Video,
)
from reelgate.gateway import request_fingerprint
from reelgate.ids import VideoId
from reelgate.store import JobIndex, MemoryJobIndex, SQLiteJobIndex
from reelgate.wire import error_from_dict, error_to_dict

pytestmark = pytest.mark.anyio


def _native(video_id: str) -> str:
    return VideoId.parse(video_id).native


def _request(**fields: Any) -> CreateVideo:
    fields.setdefault("model", "fake/m")
    fields.setdefault("prompt", "a paper boat")
    fields.setdefault("idempotency_key", "k")
    return CreateVideo(**fields)


@pytest.fixture(name="index", params=["memory", "sqlite"])
def _index(request: pytest.FixtureRequest, tmp_path: Path) -> JobIndex:
    if request.param == "memory":
        return MemoryJobIndex()
    return SQLiteJobIndex(tmp_path / "jobs.db")


class _Slow:
    """A scripted provider whose creates take a while, so concurrent callers overlap."""

    def __init__(self, inner: Any, pause: float = 0.2) -> None:
        self.inner = inner
        self.pause = pause
        self.creates = 0

    async def create(self, request: CreateVideo, *, call: Any) -> Video:
        self.creates += 1
        await anyio.sleep(self.pause)
        return await self.inner.create(request, call=call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_fingerprint_covers_every_field_but_the_key() -> None:
    """Same request, same fingerprint; any field that changes the job changes it."""
    base = request_fingerprint(_request())
    assert base == request_fingerprint(_request(idempotency_key="other"))
    assert len(base) == 64
    for change in (
        {"prompt": "a stone boat"},
        {"model": "fake/n"},
        {"seconds": "8"},
        {"size": "1280x720"},
        {"seed": 1},
        {"negative_prompt": "rain"},
        {"extra_params": {"style": "ink"}},
        {"fallbacks": ("sim/sim-1",)},
    ):
        assert request_fingerprint(_request(**change)) != base, change


async def test_fifty_concurrent_creates_with_one_key_create_once(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """50 callers racing one key: one create upstream, every caller gets its job."""
    slow = _Slow(fake)
    gateway = make_gateway(fake_spec(slow), index=index)
    got: list[str] = []

    async def create() -> None:
        got.append((await gateway.create(_request(), owner="alice")).id)

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(create)
    assert slow.creates == 1
    assert len(set(got)) == 1
    assert len(got) == 50


async def test_a_reused_key_with_another_request_is_a_409(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """The key names the first request; another body with it is idempotency_key_reused."""
    gateway = make_gateway(fake_spec(fake), index=index)
    await gateway.create(_request(), owner="alice")
    with pytest.raises(ConflictError) as caught:
        await gateway.create(_request(prompt="something else"), owner="alice")
    assert caught.value.code == "idempotency_key_reused"
    assert caught.value.status_code == 409
    # Another owner's key is another key.
    await gateway.create(_request(prompt="something else"), owner="bob")


async def test_a_create_still_running_elsewhere_is_in_progress_after_the_wait(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """A caller waits claim_wait at most, then hears idempotency_in_progress."""
    slow = _Slow(fake, pause=1.0)
    gateway = make_gateway(fake_spec(slow), index=index)
    gateway.claim_wait = 0.2
    async with anyio.create_task_group() as tg:
        tg.start_soon(gateway.create, _request())
        await anyio.sleep(0.05)
        with pytest.raises(ConflictError) as caught:
            await gateway.create(_request())
        assert caught.value.code == "idempotency_in_progress"
    assert slow.creates == 1


async def test_an_ambiguous_failure_leaves_the_key_outcome_unknown(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """A create that may have reached the provider: retries are 409, nothing is resent."""
    fake.create_errors.append(ProviderError("the answer was lost", ambiguous=True))
    gateway = make_gateway(fake_spec(fake), index=index)
    with pytest.raises(ProviderError) as first:
        await gateway.create(_request())
    assert error_to_dict(first.value)["error"]["ambiguous"] is True
    with pytest.raises(ConflictError) as again:
        await gateway.create(_request())
    assert again.value.code == "idempotency_outcome_unknown"
    assert "may exist upstream" in again.value.message
    assert "not retry blindly" in again.value.message
    assert [c for c in fake.calls if c[0] == "create"] == [("create", "m", None)]


async def test_a_failure_that_sent_nothing_releases_the_key(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """A refused create (nothing created) gives the key back: a retry creates."""
    fake.create_errors.append(InvalidRequestError("prompt refused"))
    gateway = make_gateway(fake_spec(fake), index=index)
    with pytest.raises(InvalidRequestError):
        await gateway.create(_request())
    video = await gateway.create(_request())
    assert video.status == "queued"


async def test_a_create_cancelled_midway_leaves_the_key_outcome_unknown(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """A caller gone mid-create (the create may have been sent): later calls hear unknown."""
    slow = _Slow(fake, pause=5.0)
    gateway = make_gateway(fake_spec(slow), index=index)
    with anyio.move_on_after(0.2):
        await gateway.create(_request())
    with pytest.raises(ConflictError) as caught:
        await gateway.create(_request())
    assert caught.value.code == "idempotency_outcome_unknown"


async def test_an_index_without_claims_keeps_the_in_process_lock(
    make_gateway: Any, fake: Any, fake_spec: Any
) -> None:
    """A third party's index (no claims): creates with one key serialise in the process."""

    class Plain:
        def __init__(self) -> None:
            self.inner = MemoryJobIndex()

        def __getattr__(self, name: str) -> Any:
            if name in {"claim", "release", "mark_unknown", "complete_claim"}:
                raise AttributeError(name)
            return getattr(self.inner, name)

    slow = _Slow(fake)
    gateway = make_gateway(fake_spec(slow), index=Plain())  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(gateway.create, _request())
    assert slow.creates == 1


def test_ambiguous_survives_the_wire() -> None:
    """error_to_dict says ambiguous; error_from_dict reads it back, and a 409 conflict."""
    body = error_to_dict(ProviderError("lost", ambiguous=True))
    assert error_from_dict(body).ambiguous is True
    assert "ambiguous" not in error_to_dict(ProviderError("refused"))["error"]
    conflict = error_to_dict(ConflictError("x", code="idempotency_key_reused"))
    assert isinstance(error_from_dict(conflict), ConflictError)


async def test_a_locked_database_spools_the_created_job_and_replays_it(
    make_gateway: Any, fake: Any, fake_spec: Any, tmp_path: Path
) -> None:
    """Another connection holds the file EXCLUSIVE: the caller still gets the job's id."""
    path = tmp_path / "jobs.db"
    index = SQLiteJobIndex(path, timeout=0.1)
    gateway = make_gateway(fake_spec(fake), index=index)
    gateway.spool = tmp_path / "jobs.db.spool"
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        started = anyio.current_time()
        video = await gateway.create(_request(idempotency_key=None))
        assert anyio.current_time() - started < 5
        assert gateway.spool.exists()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await index.get("fake", _native(video.id)) is None
    assert await gateway.replay_spool() == 1
    assert not gateway.spool.exists()
    record = await index.get("fake", _native(video.id))
    assert record is not None
    assert record.video is not None
    assert (await gateway.retrieve(video.id)).id == video.id


async def test_without_a_spool_an_unrecordable_job_is_named_in_the_error(
    make_gateway: Any, fake: Any, fake_spec: Any, tmp_path: Path
) -> None:
    """No spool: the error names the job the provider created, and is ambiguous."""
    path = tmp_path / "jobs.db"
    gateway = make_gateway(fake_spec(fake), index=SQLiteJobIndex(path, timeout=0.1))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(IndexUnavailableError) as caught:
            await gateway.create(_request(idempotency_key=None))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert VideoId.build("jobs/fake:0", "fake") in caught.value.message
    assert caught.value.ambiguous


async def test_the_watcher_completes_jobs_nobody_polls(
    make_gateway: Any, fake: Any, fake_spec: Any, index: JobIndex
) -> None:
    """Jobs reach their end in the index with no client polling, each polled by one."""
    gateway = make_gateway(fake_spec(fake, poll_interval=0.01), index=index)
    ids = [(await gateway.create(_request(idempotency_key=None))).id for _ in range(5)]
    for video_id in ids:
        native = _native(video_id)
        fake.script(
            native,
            Video(id=native, status="in_progress", progress=50),
            Video(id=native, status="completed", progress=100),
        )
    async with gateway.watch(interval=0.02) as watcher:
        with anyio.fail_after(10):
            while True:
                records = [await index.get("fake", _native(v)) for v in ids]
                if all(r is not None and r.video and r.video.done for r in records):
                    break
                await anyio.sleep(0.02)
    assert watcher.polls >= 10
    # A finished job is not polled again.
    polled = len([c for c in fake.calls if c[0] == "retrieve"])
    async with gateway.watch(interval=0.02):
        await anyio.sleep(0.2)
    assert len([c for c in fake.calls if c[0] == "retrieve"]) == polled


async def test_a_dead_watchers_jobs_are_taken_over_after_the_lease(
    make_gateway: Any, fake: Any, fake_spec: Any, tmp_path: Path
) -> None:
    """Two processes on one file: one leases the jobs and stops; the other takes them over."""
    path = tmp_path / "jobs.db"
    one = make_gateway(fake_spec(fake, poll_interval=0.01), index=SQLiteJobIndex(path))
    two = make_gateway(fake_spec(fake, poll_interval=0.01), index=SQLiteJobIndex(path))
    video = await one.create(_request(idempotency_key=None))
    native = _native(video.id)
    fake.script(native, Video(id=native, status="completed", progress=100))
    # The first watcher leases the job and dies before polling it.
    leased = await one.index.lease_unfinished("dead-holder", 10, 0.5)  # type: ignore[attr-defined]
    assert [r.native_id for r in leased] == [native]
    async with two.watch(interval=0.05, lease=5.0):
        await anyio.sleep(0.3)
        assert not [c for c in fake.calls if c[0] == "retrieve"]  # the lease holds
        with anyio.fail_after(5):
            while not ((r := await two.index.get("fake", native)) and r.video and r.video.done):  # noqa: ASYNC110  # polls another process's writes
                await anyio.sleep(0.05)
