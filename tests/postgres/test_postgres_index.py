"""The PostgreSQL job index: the shared index behaviours, and what only a server has."""

from __future__ import annotations

import importlib.util
import inspect
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psycopg
import pytest
from local_postgres import LocalPostgres

from reelgate import ConfigurationError, IndexUnavailableError, InvalidRequestError, Video
from reelgate.postgres import SCHEMA_VERSION, PostgresJobIndex
from reelgate.store import JobIndex, JobRecord

pytestmark = pytest.mark.anyio


def _shared_tests() -> dict[str, object]:
    """The index tests of tests/core/test_store.py that any index must pass."""
    path = Path(__file__).parents[1] / "core" / "test_store.py"
    spec = importlib.util.spec_from_file_location("reelgate_shared_store_tests", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: test
        for name, test in vars(module).items()
        if name.startswith("test_") and "index" in inspect.signature(test).parameters
    }


# Collected here too, where `index` is a PostgresJobIndex.
globals().update(_shared_tests())


@pytest.fixture(name="index")
async def _index(pg_url: str) -> AsyncIterator[JobIndex]:
    """A PostgreSQL index on a database of its own."""
    index = await PostgresJobIndex.connect(pg_url)
    yield index
    await index.aclose()


def _record(native: str, created_at: float = 1000.0, **kwargs: object) -> JobRecord:
    return JobRecord(instance="sim", native_id=native, created_at=created_at, **kwargs)  # type: ignore[arg-type]


def _video(native: str, status: str = "queued", **kwargs: object) -> Video:
    return Video(id=f"{native}:sim", provider="sim", status=status, **kwargs)  # type: ignore[arg-type]


def _sql(url: str, query: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as db:
        cursor = db.execute(query, args or None)
        return cursor.fetchall() if cursor.description else []


async def test_jobs_outlive_the_index(pg_url: str) -> None:
    """Jobs, deletions, idempotency keys and the machine's state are there when reopened."""
    first = await PostgresJobIndex.connect(pg_url)
    await first.add(_record("a", key_name="KEY_A", idempotency_key="k", owner="alice"))
    await first.add(_record("b", created_at=1001.0))
    await first.observe(
        "sim", "a", _video("a", "completed", progress=100), provider_state={"path": "x/y"}
    )
    await first.mark_deleted("sim", "b")
    await first.aclose()

    second = await PostgresJobIndex.connect(pg_url)
    try:
        record = await second.get("sim", "a")
        assert record is not None
        assert (record.key_name, record.provider_state) == ("KEY_A", {"path": "x/y"})
        assert (await second.find_idempotent("alice", "k")) == record
        page, _ = await second.page("sim", limit=10, order="desc", after=None)
        assert [r.native_id for r in page] == ["a"]
        seen = await second.observe("sim", "a", _video("a", "in_progress", progress=3))
        assert (seen.status.value, seen.progress) == ("completed", 100)
        assert repr(second).startswith("PostgresJobIndex('127.0.0.1:")
    finally:
        await second.aclose()


async def test_an_unchanged_state_writes_nothing(index: PostgresJobIndex, pg_url: str) -> None:
    """Observing what is stored already leaves the row untouched (no new row version)."""
    await index.add(_record("a"))
    await index.observe("sim", "a", _video("a", "in_progress", progress=10))

    def version() -> list[tuple[object, ...]]:
        return _sql(pg_url, "SELECT xmin::text, revision FROM reelgate_jobs WHERE native_id = 'a'")

    before = version()
    for _ in range(3):
        await index.observe("sim", "a", _video("a", "in_progress", progress=10))
        await index.observe("sim", "a", _video("a", "queued", progress=5))  # a regression
        await index.mark_deleted("sim", "other")
    assert version() == before
    await index.observe("sim", "a", _video("a", "in_progress", progress=11))
    assert version() != before


async def test_concurrent_observers_never_regress(pg_url: str) -> None:
    """Two replicas polling one job at once store the furthest state, never an older one."""
    left = await PostgresJobIndex.connect(pg_url)
    right = await PostgresJobIndex.connect(pg_url)
    try:
        await left.add(_record("a"))
        async with anyio.create_task_group() as tg:
            for i in range(60):
                replica = left if i % 2 else right
                tg.start_soon(replica.observe, "sim", "a", _video("a", "in_progress", progress=i))
        stored = await right.get("sim", "a")
        assert stored is not None
        assert stored.video is not None
        assert stored.video.progress == 59
    finally:
        await left.aclose()
        await right.aclose()


async def test_text_postgres_cannot_hold_is_kept_or_refused(index: PostgresJobIndex) -> None:
    """A NUL or lone surrogate in a video's text is stored; in an id it is a 400, not a 500."""
    odd = "a\x00b\ud800c"
    seen = await index.observe("sim", "a", _video("a", prompt=odd), provider_state={"k": odd})
    assert seen.prompt == odd
    stored = await index.get("sim", "a")
    assert stored is not None
    assert stored.video is not None
    assert (stored.video.prompt, stored.provider_state) == (odd, {"k": odd})
    for native in ("a\x00", "a\ud800"):
        with pytest.raises(InvalidRequestError) as e:
            await index.get("sim", native)
        assert e.value.status_code == 400
    with pytest.raises(InvalidRequestError):
        await index.add(_record("x", idempotency_key="k\x00"))
    assert (await index.page("sim", limit=10, order="desc", after=None))[0][0].native_id == "a"


# -- migrations -------------------------------------------------------------------------


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    """Eight indexes opened at once on an empty database apply each version once."""
    errors: list[BaseException] = []
    opened: list[PostgresJobIndex] = []
    gate = threading.Barrier(8)

    def open_one() -> None:
        gate.wait()
        try:
            opened.append(PostgresJobIndex(pg_url, max_connections=1))
        except BaseException as e:  # noqa: BLE001  # reported below
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in opened:
        anyio.run(index.aclose)
    assert errors == []
    versions = _sql(pg_url, "SELECT version FROM reelgate_schema ORDER BY version")
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_a_schema_it_cannot_create_is_a_configuration_error(pg_url: str) -> None:
    """A role that may not create tables gets a ConfigurationError saying why."""
    schema = pg_url.rsplit("%3D", 1)[1]
    _sql(pg_url, "CREATE ROLE reader LOGIN PASSWORD 'hunter2'")
    try:
        _sql(pg_url, f'GRANT USAGE ON SCHEMA "{schema}" TO reader')
        url = "postgresql://reader:hunter2@" + pg_url.split("@", 1)[1]
        with pytest.raises(ConfigurationError, match="cannot hold reelgate's schema") as e:
            PostgresJobIndex(url)
        assert "permission denied" in str(e.value)
        assert "hunter2" not in str(e.value)
    finally:
        _sql(pg_url, f'REVOKE ALL ON SCHEMA "{schema}" FROM reader')
        _sql(pg_url, "DROP ROLE reader")


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    """A database migrated by a newer reelgate is a ConfigurationError, never downgraded."""
    anyio.run(PostgresJobIndex(pg_url).aclose)
    _sql(pg_url, "INSERT INTO reelgate_schema (version) VALUES (%s)", SCHEMA_VERSION + 1)
    with pytest.raises(ConfigurationError, match=r"schema version \d+, newer than this"):
        PostgresJobIndex(pg_url)
    assert _sql(pg_url, "SELECT max(version) FROM reelgate_schema") == [(SCHEMA_VERSION + 1,)]


# -- bad URLs and an unreachable or lost database ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:hunter2@db/jobs",
        "postgresql://user:hunter2@[::1/jobs",
        "postgresql://user:hunter2@db:5x432/jobs",
        "postgresql://user:hunter2@db/jobs?no_such_option=1",
    ],
)
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    """A URL that is no PostgreSQL URL is refused without repeating its password."""
    with pytest.raises(ConfigurationError) as e:
        PostgresJobIndex(url)
    assert "hunter2" not in str(e.value)


def test_an_unreachable_database_names_host_and_port(pg_server: LocalPostgres) -> None:
    """No server on the port: a ConfigurationError naming where, never the password."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://reelgate:hunter2@127.0.0.1:{port}/jobs"
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as e:
        PostgresJobIndex(url, connect_timeout=1.0)
    assert f"127.0.0.1:{port}" in str(e.value)
    assert "unreachable" in str(e.value)
    assert "hunter2" not in str(e.value)
    assert time.monotonic() - started < 10


def test_a_refused_login_never_shows_the_password(pg_server: LocalPostgres) -> None:
    """A wrong password is a ConfigurationError that says why and does not repeat it."""
    url = pg_server.url().replace(pg_server.password, "wrong-hunter2")
    with pytest.raises(ConfigurationError) as e:
        PostgresJobIndex(url, connect_timeout=1.0)
    assert "password authentication failed" in str(e.value)
    assert "hunter2" not in str(e.value)
    assert pg_server.password not in str(e.value)


async def test_a_restarted_database_fails_requests_then_recovers(
    pg_server: LocalPostgres, pg_url: str
) -> None:
    """While the server is down requests get a 503; once back, they work and lose nothing."""
    index = await PostgresJobIndex.connect(pg_url, connect_timeout=1.0)
    try:
        await index.add(_record("before", idempotency_key="k"))
        await index.get("sim", "before")  # the pool now holds a connection
        await anyio.to_thread.run_sync(pg_server.stop)
        try:
            with pytest.raises(IndexUnavailableError) as e:
                await index.get("sim", "before")
            assert e.value.status_code == 503
            assert pg_server.password not in str(e.value)
            assert f"127.0.0.1:{pg_server.port}" in str(e.value)
        finally:
            await anyio.to_thread.run_sync(pg_server.start)
        deadline = time.monotonic() + 30
        while True:
            try:
                record = await index.get("sim", "before")
                break
            except IndexUnavailableError:
                assert time.monotonic() < deadline, "the index did not recover"
                await anyio.sleep(0.2)
        assert record is not None
        assert (await index.find_idempotent(None, "k")) == record
        await index.add(_record("after", created_at=1001.0))
        page, _ = await index.page("sim", limit=10, order="asc", after=None)
        assert [r.native_id for r in page] == ["before", "after"]
    finally:
        await index.aclose()
