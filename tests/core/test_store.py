"""The job index: both implementations through the same tests, and SQLite across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelgate import ConfigurationError, InvalidRequestError, Video, VideoError
from reelgate.store import (
    JobIndex,
    JobRecord,
    MemoryJobIndex,
    SQLiteJobIndex,
    SupportsObserveMany,
    _shared,
    merge,
    observe_all,
)
from reelgate.store.sqlite import SCHEMA_VERSION

pytestmark = pytest.mark.anyio


@pytest.fixture(name="index", params=["memory", "sqlite"])
async def _index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobIndex]:
    """Each test runs against the in-memory and the SQLite index."""
    index: JobIndex = (
        MemoryJobIndex() if request.param == "memory" else SQLiteJobIndex(tmp_path / "jobs.db")
    )
    yield index
    await index.aclose()


def _record(native: str, created_at: float = 1000.0, **kwargs: object) -> JobRecord:
    return JobRecord(instance="sim", native_id=native, created_at=created_at, **kwargs)  # type: ignore[arg-type]


def _video(native: str, status: str = "queued", **kwargs: object) -> Video:
    return Video(id=f"{native}:sim", provider="sim", status=status, **kwargs)  # type: ignore[arg-type]


async def _add_jobs(index: JobIndex, count: int, **kwargs: object) -> list[str]:
    natives = [f"job-{i}" for i in range(count)]
    for i, native in enumerate(natives):
        await index.add(_record(native, created_at=1000.0 + i, **kwargs))
    return natives


async def _ids(index: JobIndex, **kwargs: object) -> tuple[list[str], bool]:
    kwargs = {"limit": 100, "order": "desc", "after": None, **kwargs}
    records, has_more = await index.page("sim", **kwargs)  # type: ignore[arg-type]
    return [r.native_id for r in records], has_more


async def test_add_then_get(index: JobIndex) -> None:
    """A job added is found with everything it was recorded with."""
    stored = await index.add(
        _record(
            "a/b:c", key_name="KEY_B", owner="alice", idempotency_key="k1", remixed_from="x:sim"
        )
    )
    assert stored.seq > 0
    got = await index.get("sim", "a/b:c")
    assert got == stored
    assert (got.key_name, got.owner, got.idempotency_key, got.remixed_from, got.deleted) == (
        "KEY_B",
        "alice",
        "k1",
        "x:sim",
        False,
    )
    assert await index.get("sim", "other") is None
    assert await index.get("other-instance", "a/b:c") is None


async def test_adding_a_known_job_returns_what_is_known(index: JobIndex) -> None:
    """A second add of the same job changes nothing and returns the first record."""
    first = await index.add(_record("a", key_name="KEY_A"))
    again = await index.add(_record("a", created_at=5.0, key_name="KEY_B"))
    assert again == first
    assert (await index.get("sim", "a")) == first


async def test_idempotency_keys_are_per_owner(index: JobIndex) -> None:
    """An idempotency key finds the job its owner created with it, and only that."""
    await index.add(_record("a", idempotency_key="k", owner="alice"))
    await index.add(_record("b", idempotency_key="k", owner="bob"))
    await index.add(_record("c", idempotency_key="k"))
    assert (await index.find_idempotent("alice", "k")).native_id == "a"  # type: ignore[union-attr]
    assert (await index.find_idempotent("bob", "k")).native_id == "b"  # type: ignore[union-attr]
    assert (await index.find_idempotent(None, "k")).native_id == "c"  # type: ignore[union-attr]
    assert await index.find_idempotent("carol", "k") is None
    assert await index.find_idempotent("alice", "other") is None


async def test_a_used_idempotency_key_returns_the_first_job(index: JobIndex) -> None:
    """Adding another job with an owner's used key answers with the job that has it."""
    first = await index.add(_record("a", idempotency_key="k", owner="alice"))
    answer = await index.add(_record("b", idempotency_key="k", owner="alice"))
    assert answer == first
    assert (await index.find_idempotent("alice", "k")) == first


async def test_observe_records_unknown_jobs(index: JobIndex) -> None:
    """A job first seen by a poll is recorded, created when the provider says."""
    seen = await index.observe("sim", "new", _video("new", created_at=1234))
    assert seen.created_at == 1234
    record = await index.get("sim", "new")
    assert record is not None
    assert record.created_at == 1234
    assert record.video == seen


async def test_observe_enforces_the_status_machine(index: JobIndex) -> None:
    """A regression upstream never reaches the caller, poll after poll."""
    await index.add(_record("a"))
    await index.observe("sim", "a", _video("a", "in_progress", progress=50))
    seen = await index.observe("sim", "a", _video("a", "queued", progress=5))
    assert (seen.status.value, seen.progress) == ("in_progress", 50)
    failed = await index.observe("sim", "a", _video("a", "failed", error=VideoError("x", "no")))
    assert failed.status.value == "failed"
    later = await index.observe("sim", "a", _video("a", "completed", progress=100))
    assert later.status.value == "failed"
    assert later.error == VideoError("x", "no")
    stored = await index.get("sim", "a")
    assert stored is not None
    assert stored.video == later


async def test_observe_fills_what_the_poll_leaves_out(index: JobIndex) -> None:
    """created_at, the remix source and the request's fields survive sparse polls."""
    await index.add(_record("a", created_at=1500.9, remixed_from="src:sim"))
    await index.observe("sim", "a", _video("a", model="m", prompt="p", seconds="8", size="1x1"))
    seen = await index.observe("sim", "a", _video("a", "in_progress"))
    assert seen.created_at == 1500
    assert seen.remixed_from_video_id == "src:sim"
    assert (seen.model, seen.prompt, seen.seconds, seen.size) == ("m", "p", "8", "1x1")


async def test_provider_state_is_kept_and_replaced(index: JobIndex) -> None:
    """A job's provider state is stored on add and replaced only by a newer one."""
    stored = await index.add(_record("a", provider_state={"app": "fal/x", "n": [1, 2]}))
    assert stored.provider_state == {"app": "fal/x", "n": [1, 2]}
    await index.observe("sim", "a", _video("a", "in_progress"))
    assert (await index.get("sim", "a")).provider_state == {"app": "fal/x", "n": [1, 2]}  # type: ignore[union-attr]
    await index.observe("sim", "a", _video("a", "in_progress"), provider_state={"file": "f1"})
    assert (await index.get("sim", "a")).provider_state == {"file": "f1"}  # type: ignore[union-attr]
    await index.observe("sim", "new", _video("new"), provider_state={"model": "m"})
    assert (await index.get("sim", "new")).provider_state == {"model": "m"}  # type: ignore[union-attr]
    assert (await index.add(_record("plain"))).provider_state is None


async def test_observe_many_is_observe_for_each(index: JobIndex) -> None:
    """A page of states is merged job by job, unknown jobs recorded, in the given order."""
    await index.add(_record("a"))
    await index.observe("sim", "a", _video("a", "completed", progress=100))
    seen = await observe_all(
        index,
        "sim",
        [
            ("a", _video("a", "in_progress", progress=10), None),
            ("b", _video("b", "in_progress", progress=20), {"s": 1}),
            ("c", _video("c"), None),
        ],
    )
    assert [(v.id, v.status.value, v.progress) for v in seen] == [
        ("a:sim", "completed", 100),
        ("b:sim", "in_progress", 20),
        ("c:sim", "queued", None),
    ]
    assert (await index.get("sim", "b")).provider_state == {"s": 1}  # type: ignore[union-attr]
    assert (await index.get("sim", "c")).video == seen[2]  # type: ignore[union-attr]
    assert await observe_all(index, "sim", []) == []


async def test_observe_all_works_with_any_index() -> None:
    """An index without observe_many observes a page's states one by one."""

    class OneByOne:
        def __init__(self) -> None:
            self.inner = MemoryJobIndex()

        def __getattr__(self, name: str) -> object:
            if name == "observe_many":
                raise AttributeError(name)
            return getattr(self.inner, name)

    index = OneByOne()
    assert not isinstance(index, SupportsObserveMany)
    assert isinstance(MemoryJobIndex(), SupportsObserveMany)
    assert SQLiteJobIndex.observe_many
    seen = await observe_all(index, "sim", [("a", _video("a", "in_progress"), {"s": 1})])  # type: ignore[arg-type]
    assert seen[0].status.value == "in_progress"
    assert (await index.inner.get("sim", "a")).provider_state == {"s": 1}  # type: ignore[union-attr]


async def test_deleted_jobs_leave_the_list(index: JobIndex) -> None:
    """A deleted job is marked, and no page shows it; unknown jobs can be marked too."""
    natives = await _add_jobs(index, 3)
    await index.mark_deleted("sim", natives[1])
    await index.mark_deleted("sim", "never-seen")
    record = await index.get("sim", natives[1])
    assert record is not None
    assert record.deleted
    unknown = await index.get("sim", "never-seen")
    assert unknown is not None
    assert unknown.deleted
    assert (await _ids(index))[0] == [natives[2], natives[0]]


async def test_pages_in_both_orders(index: JobIndex) -> None:
    """Pages follow creation time, newest first by default, oldest first on asc."""
    natives = await _add_jobs(index, 5)
    assert await _ids(index) == (natives[::-1], False)
    assert await _ids(index, order="asc") == (natives, False)


async def test_has_more_is_exact(index: JobIndex) -> None:
    """has_more is true only when a further job exists."""
    natives = await _add_jobs(index, 4)
    assert await _ids(index, limit=3) == (natives[:0:-1], True)
    assert await _ids(index, limit=4) == (natives[::-1], False)
    assert await _ids(index, limit=5) == (natives[::-1], False)


async def test_cursors_walk_without_gap_or_duplicate(index: JobIndex) -> None:
    """Following `after` pages through every job exactly once, in both orders."""
    natives = await _add_jobs(index, 7)
    for order, expected in (("desc", natives[::-1]), ("asc", natives)):
        seen: list[str] = []
        after = None
        while True:
            page, has_more = await _ids(index, limit=3, order=order, after=after)
            seen += page
            if not has_more:
                break
            after = page[-1]
        assert seen == expected


async def test_ties_in_creation_time_keep_insertion_order(index: JobIndex) -> None:
    """Jobs created in the same instant are ordered by when they were recorded."""
    for native in ("x", "y", "z"):
        await index.add(_record(native, created_at=1000.0))
    assert (await _ids(index, order="asc"))[0] == ["x", "y", "z"]
    assert (await _ids(index, limit=1, order="asc", after="x"))[0] == ["y"]


async def test_unknown_after_is_invalid(index: JobIndex) -> None:
    """An `after` naming no job of the instance is an InvalidRequestError on after."""
    await _add_jobs(index, 2)
    await index.add(JobRecord(instance="other", native_id="elsewhere", created_at=1.0))
    for after in ("nope", "elsewhere"):
        with pytest.raises(InvalidRequestError) as e:
            await _ids(index, after=after)
        assert e.value.param == "after"


async def test_a_deleted_cursor_still_continues(index: JobIndex) -> None:
    """The last job of a page may be deleted before the next page is asked for."""
    natives = await _add_jobs(index, 5)
    page, _ = await _ids(index, limit=2)
    await index.mark_deleted("sim", page[-1])
    assert await _ids(index, limit=2, after=page[-1]) == ([natives[2], natives[1]], True)


async def test_owner_filter(index: JobIndex) -> None:
    """With an owner, pages hold only that owner's jobs; others' jobs are not cursors."""
    for i, owner in enumerate(["alice", "bob", "alice", None, "alice"]):
        await index.add(_record(f"j{i}", created_at=1000.0 + i, owner=owner))
    assert await _ids(index, owner="alice") == (["j4", "j2", "j0"], False)
    assert await _ids(index, owner="alice", limit=1, after="j4") == (["j2"], True)
    assert await _ids(index, owner="bob") == (["j1"], False)
    assert (await _ids(index))[0] == ["j4", "j3", "j2", "j1", "j0"]


async def test_other_instances_stay_apart(index: JobIndex) -> None:
    """The same native id under two instances is two jobs."""
    await index.add(_record("same"))
    await index.add(JobRecord(instance="other", native_id="same", created_at=1.0, owner="o"))
    assert (await index.get("other", "same")).owner == "o"  # type: ignore[union-attr]
    assert (await index.get("sim", "same")).owner is None  # type: ignore[union-attr]
    assert (await _ids(index))[0] == ["same"]


# -- SQLite only ------------------------------------------------------------------------


async def test_sqlite_survives_reopening(tmp_path: Path) -> None:
    """Jobs, deletions, idempotency keys and the machine's state outlive the process."""
    path = tmp_path / "deep" / "dir" / "jobs.db"
    first = SQLiteJobIndex(path)
    await first.add(_record("a", key_name="KEY_A", idempotency_key="k", owner="alice"))
    await first.add(_record("b", created_at=1001.0))
    await first.observe("sim", "a", _video("a", "completed", progress=100))
    await first.mark_deleted("sim", "b")
    await first.aclose()

    second = SQLiteJobIndex(path)
    try:
        record = await second.get("sim", "a")
        assert record is not None
        assert record.key_name == "KEY_A"
        assert (await second.find_idempotent("alice", "k")) == record
        assert (await _ids(second))[0] == ["a"]
        seen = await second.observe("sim", "a", _video("a", "in_progress", progress=3))
        assert seen.status.value == "completed"
        assert seen.progress == 100
        assert repr(second) == f"SQLiteJobIndex({str(path)!r})"
    finally:
        await second.aclose()


async def test_sqlite_adds_provider_state_to_an_older_file(tmp_path: Path) -> None:
    """A file written before jobs had a provider state opens, keeps its jobs, and takes one."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO jobs (instance, native_id, created_at, key_name) "
        "VALUES ('sim', 'old', 1000.0, 'KEY_A')"
    )
    db.commit()
    db.close()
    index = SQLiteJobIndex(path)
    try:
        record = await index.get("sim", "old")
        assert record is not None
        assert (record.key_name, record.provider_state) == ("KEY_A", None)
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.close()
        await index.observe("sim", "old", _video("old"), provider_state={"k": "v"})
        assert (await index.get("sim", "old")).provider_state == {"k": "v"}  # type: ignore[union-attr]
    finally:
        await index.aclose()
    reopened = SQLiteJobIndex(path)
    try:
        assert (await reopened.get("sim", "old")).provider_state == {"k": "v"}  # type: ignore[union-attr]
    finally:
        await reopened.aclose()


def _data_version(path: Path) -> int:
    """A count another connection sees change whenever the file is written."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA data_version").fetchone()[0])
    finally:
        db.close()


class _Watcher:
    """Another connection to the file: it sees every commit as a new data_version."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)

    def version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])


async def test_sqlite_a_poll_with_no_news_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observing a state the index has already costs no write and no thread hop."""
    path = tmp_path / "jobs.db"
    index = SQLiteJobIndex(path)
    watcher = _Watcher(path)
    try:
        await index.add(_record("a", provider_state={"k": 1}))
        await index.observe("sim", "a", _video("a", "in_progress", progress=40, model="m"))
        before = watcher.version()
        hops = 0
        real = anyio.to_thread.run_sync

        async def counted(*args: object, **kwargs: object) -> object:
            nonlocal hops
            hops += 1
            return await real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for _ in range(3):
            assert (await index.get("sim", "a")) is not None
            seen = await index.observe(
                "sim",
                "a",
                _video("a", "in_progress", progress=40, poll_after=5.0),
                provider_state={"k": 1},
            )
            assert (seen.status.value, seen.progress, seen.model) == ("in_progress", 40, "m")
            assert seen.poll_after == 5.0
        assert (watcher.version(), hops) == (before, 0)
        await index.observe("sim", "a", _video("a", "in_progress", progress=41))
        assert watcher.version() != before
        assert hops == 1
        await index.observe("sim", "a", _video("a", "in_progress"), provider_state={"k": 2})
        assert (await index.get("sim", "a")).provider_state == {"k": 2}  # type: ignore[union-attr]
        assert hops == 2
    finally:
        watcher.db.close()
        await index.aclose()


async def test_sqlite_another_connections_writes_are_seen(tmp_path: Path) -> None:
    """A cached job is read again once another connection writes; the machine still holds."""
    path = tmp_path / "jobs.db"
    left, right = SQLiteJobIndex(path), SQLiteJobIndex(path)
    try:
        await left.add(_record("a"))
        await left.observe("sim", "a", _video("a", "in_progress", progress=10))
        assert (await left.get("sim", "a")).video.progress == 10  # type: ignore[union-attr]
        await right.observe("sim", "a", _video("a", "completed", progress=100))
        assert (await left.get("sim", "a")).video.status.value == "completed"  # type: ignore[union-attr]
        # The stale state left still remembers is never what a caller sees.
        seen = await left.observe("sim", "a", _video("a", "in_progress", progress=20))
        assert (seen.status.value, seen.progress) == ("completed", 100)
        await right.mark_deleted("sim", "a")
        assert (await left.get("sim", "a")).deleted  # type: ignore[union-attr]
        await right.add(_record("b", idempotency_key="k"))
        assert (await left.find_idempotent(None, "k")).native_id == "b"  # type: ignore[union-attr]
    finally:
        await left.aclose()
        await right.aclose()


async def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """While another connection holds the write lock, reads answer and a write waits for it."""
    path = tmp_path / "jobs.db"
    index = SQLiteJobIndex(path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        await index.add(_record("a"))
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE jobs SET key_name = 'KEY_X'")
        with anyio.fail_after(1):
            assert (await index.get("sim", "a")) is not None
            assert (await _ids(index))[0] == ["a"]
        written = anyio.Event()

        async def write() -> None:
            await index.observe("sim", "a", _video("a", "in_progress"))
            written.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write)
            await anyio.sleep(0.2)
            assert not written.is_set()
            holder.execute("COMMIT")
        record = await index.get("sim", "a")
        assert record is not None
        assert (record.key_name, record.video.status.value) == ("KEY_X", "in_progress")  # type: ignore[union-attr]
    finally:
        holder.close()
        await index.aclose()


async def test_sqlite_schema_version_is_recorded(tmp_path: Path) -> None:
    """A new file is at the code's schema version; opening it again migrates nothing."""
    path = tmp_path / "jobs.db"
    await SQLiteJobIndex(path).aclose()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    version = _data_version(path)
    await SQLiteJobIndex(path).aclose()
    assert _data_version(path) == version


def test_sqlite_refuses_a_newer_file(tmp_path: Path) -> None:
    """A file from a newer reelgate is a ConfigurationError naming both versions."""
    path = tmp_path / "jobs.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigurationError) as e:
        SQLiteJobIndex(path)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(e.value)
    assert f"up to {SCHEMA_VERSION}" in str(e.value)
    assert str(path) in str(e.value)


# The schema as the first released index wrote it (no schema version).
OLD_SCHEMA = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    native_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    key_name TEXT,
    owner TEXT,
    idempotency_key TEXT,
    remixed_from TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    video TEXT,
    UNIQUE (instance, native_id)
);
CREATE UNIQUE INDEX jobs_idempotency
    ON jobs (coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_by_time ON jobs (instance, created_at, seq);
"""

WRITER = """
import sys, time
from pathlib import Path
import anyio
from reelgate import Video
from reelgate.store import JobRecord, SQLiteJobIndex

async def main(path, tag, count):
    index = SQLiteJobIndex(path)
    Path(f"{path}.ready-{tag}").touch()
    while not Path(f"{path}.go").exists():
        time.sleep(0.005)
    for i in range(count):
        native = f"{tag}-{i}"
        await index.add(JobRecord(instance="sim", native_id=native, created_at=1000 + i,
                                  owner=tag, idempotency_key=native))
        await index.observe("sim", native, Video(id=f"{native}:sim", status="in_progress",
                                                 progress=10))
        await index.observe("sim", "shared", Video(id="shared:sim", status="in_progress",
                                                   progress=100 * i / count))
    await index.aclose()

anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def test_two_processes_write_one_file_at_once(tmp_path: Path) -> None:
    """Two processes adding and observing hundreds of jobs at once lose no write."""
    path = tmp_path / "shared.db"
    count = 200
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(path), tag, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("left", "right")
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{path}.ready-{tag}").exists() for tag in ("left", "right")):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(w.poll() is None for w in writers), [w.communicate() for w in writers]
        time.sleep(0.01)
    Path(f"{path}.go").touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
        assert "locked" not in stderr
    anyio.run(_check_both_writers, path, count)


async def _check_both_writers(path: Path, count: int) -> None:
    index = SQLiteJobIndex(path)
    try:
        for tag in ("left", "right"):
            records, has_more = await index.page(
                "sim", limit=100, order="asc", after=None, owner=tag
            )
            seen = [r.native_id for r in records]
            while has_more:
                records, has_more = await index.page(
                    "sim", limit=100, order="asc", after=seen[-1], owner=tag
                )
                seen += [r.native_id for r in records]
            assert sorted(seen) == sorted(f"{tag}-{i}" for i in range(count))
            for i in (0, count // 2, count - 1):
                record = await index.get("sim", f"{tag}-{i}")
                assert record is not None
                assert record.video is not None
                assert record.video.progress == 10
                assert (await index.find_idempotent(tag, f"{tag}-{i}")) == record
        shared = await index.get("sim", "shared")
        assert shared is not None
        assert shared.video is not None
        assert shared.video.progress == pytest.approx(100 * (count - 1) / count)
    finally:
        await index.aclose()


_STATUSES = st.sampled_from(["queued", "in_progress", "completed", "failed"])
_MAYBE = st.sampled_from([None, "a", "b"])


@st.composite
def _polls(draw: st.DrawFn) -> Video:
    return Video(
        id="j:sim",
        provider="sim",
        status=draw(_STATUSES),
        progress=draw(st.sampled_from([None, 0, 50, 100])),
        model=draw(_MAYBE),
        prompt=draw(_MAYBE),
        created_at=draw(st.sampled_from([None, 1000, 1001])),
        remixed_from_video_id=draw(st.sampled_from([None, "src:sim"])),
        expires_at=draw(st.sampled_from([None, 5000])),
        error=draw(st.sampled_from([None, VideoError("x", "no")])),
        poll_after=draw(st.sampled_from([None, 2.0])),
        provider_metadata=draw(st.sampled_from([{}, {"raw": "done"}])),
    )


@given(
    first=_polls(),
    again=_polls(),
    remixed=st.sampled_from([None, "src:sim"]),
    created=st.sampled_from([1000.0, 1000.5]),
)
def test_a_repeated_poll_merges_as_any_other(
    first: Video, again: Video, remixed: str | None, created: float
) -> None:
    """The shortcut for a poll with no news gives what the full merge gives, field by field."""
    record = JobRecord(instance="sim", native_id="j", created_at=created, remixed_from=remixed)
    record = attrs.evolve(record, video=merge(record, first))
    fast = merge(record, again)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_shared, "_repeats", lambda *_: False)
        full = merge(record, again)
    assert fast == full
    assert (fast.poll_after, fast.provider_metadata) == (full.poll_after, full.provider_metadata)
    assert merge(record, record.video) is record.video  # type: ignore[arg-type]
