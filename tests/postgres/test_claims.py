"""
Claims: an idempotency key is claimed before the create it names is sent.

Every index reelgate ships claims keys with the same semantics: each test runs on memory,
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from reelgate import Video
from reelgate.postgres import PostgresJobIndex
from reelgate.store import (
    Claim,
    JobIndex,
    JobRecord,
    MemoryJobIndex,
    SQLiteJobIndex,
    SupportsClaims,
)

pytestmark = pytest.mark.anyio


Index = MemoryJobIndex | SQLiteJobIndex | PostgresJobIndex


@pytest.fixture(name="index", params=["memory", "sqlite", "postgres"])
async def _index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobIndex]:
    """Each index: memory, an SQLite file, PostgreSQL on a schema of its own."""
    index: Index
    if request.param == "memory":
        index = MemoryJobIndex()
    elif request.param == "sqlite":
        index = SQLiteJobIndex(tmp_path / "jobs.db")
    else:
        index = await PostgresJobIndex.connect(request.getfixturevalue("pg_url"))
    yield index
    await index.aclose()


def _record(native: str, key: str, owner: str | None = "alice") -> JobRecord:
    return JobRecord(
        instance="sim", native_id=native, created_at=1000.0, owner=owner, idempotency_key=key
    )


async def test_the_index_supports_claims(index: Any) -> None:
    """Every index reelgate ships follows the claims protocol."""
    assert isinstance(index, SupportsClaims)


async def test_the_winner_creates_and_the_others_find_its_job(index: Any) -> None:
    """won, then pending for others while held, then existing with the job once added."""
    won = await index.claim("alice", "k", "f1", lease=30)
    assert won.outcome == "won"
    assert won.holder
    assert (await index.claim("alice", "k", "f1", lease=30)).outcome == "pending"
    stored = await index.add(_record("job-1", "k"))
    again = await index.claim("alice", "k", "f1", lease=30)
    assert again == Claim(outcome="existing", record=stored)


async def test_a_job_a_poll_recorded_first_still_completes_the_claim(
    index: Any,
) -> None:
    """A list on another replica may record the new job before its creator does."""
    if not isinstance(index, PostgresJobIndex):
        pytest.skip("PostgreSQL's add completes the claim; the others get complete_claim")
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "won"
    await index.observe("sim", "job-1", Video(id="job-1:sim", status="queued"))
    stored = await index.add(_record("job-1", "k"))
    claimed = await index.claim("alice", "k", "f", lease=30)
    assert claimed.outcome == "existing"
    assert claimed.record == stored
    assert claimed.record.video is not None


async def test_a_lease_is_positive(index: Any) -> None:
    """A claim without a positive lease is a programming error."""
    for lease in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="lease must be"):
            await index.claim("alice", "k", "f", lease=lease)


async def test_keys_are_per_owner(index: Any) -> None:
    """One key claimed by two owners (and by no owner) is three claims."""
    outcomes = [
        (await index.claim(owner, "k", "f", lease=30)).outcome for owner in ("a", "b", None)
    ]
    assert outcomes == ["won", "won", "won"]


async def test_another_request_with_the_key_is_a_mismatch(index: Any) -> None:
    """A different fingerprint is a mismatch, while held and once the job exists."""
    await index.claim("alice", "k", "f1", lease=30)
    assert (await index.claim("alice", "k", "f2", lease=30)).outcome == "mismatch"
    await index.add(_record("job-1", "k"))
    assert (await index.claim("alice", "k", "f2", lease=30)).outcome == "mismatch"


async def test_a_job_added_without_a_claim_is_existing(index: Any) -> None:
    """A key used by an add without a claim (an older gateway) answers existing."""
    stored = await index.add(_record("job-1", "k"))
    assert await index.claim("alice", "k", "any", lease=30) == Claim(
        outcome="existing", record=stored
    )


async def test_release_lets_the_next_caller_win(index: Any) -> None:
    """A claim given back (nothing was sent) is won by the next caller."""
    won = await index.claim("alice", "k", "f", lease=30)
    await index.release("alice", "k", holder=won.holder)
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "won"


async def test_an_unknown_outcome_stays_unknown_until_the_job_is_found(
    index: Any,
) -> None:
    """After mark_unknown every caller hears unknown (no lease ends it); an add resolves it."""
    won = await index.claim("alice", "k", "f", lease=0.1)
    await index.mark_unknown("alice", "k", holder=won.holder)
    await anyio.sleep(0.3)
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "unknown"
    await index.release("alice", "k", holder=won.holder)  # gives back held claims only
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "unknown"
    stored = await index.add(_record("found-upstream", "k"))
    assert (await index.claim("alice", "k", "f", lease=30)).record == stored


async def test_a_dead_holders_claim_is_taken_over(index: Any) -> None:
    """When the lease runs out the same request wins the claim; another is a mismatch."""
    await index.claim("alice", "k", "f", lease=0.2)
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "pending"
    await anyio.sleep(0.4)
    assert (await index.claim("alice", "k", "other", lease=30)).outcome == "mismatch"
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "won"
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "pending"


async def test_fifty_concurrent_claims_have_one_winner(pg_url: str) -> None:
    """50 tasks over three replicas claim one key at once: exactly one wins."""
    replicas = [await PostgresJobIndex.connect(pg_url) for _ in range(3)]
    outcomes: Counter[str] = Counter()

    async def claim(i: int) -> None:
        claimed = await replicas[i % 3].claim("alice", "k", "f", lease=30)
        outcomes[claimed.outcome] += 1

    try:
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(claim, i)
    finally:
        for replica in replicas:
            await replica.aclose()
    assert outcomes == {"won": 1, "pending": 49}


async def test_only_the_holder_releases_or_marks(index: Any) -> None:
    """A holder whose lease was taken over cannot touch the new holder's claim."""
    old = await index.claim("alice", "k", "f", lease=0.1)
    await anyio.sleep(0.3)
    new = await index.claim("alice", "k", "f", lease=30)
    assert new.outcome == "won"
    assert new.holder != old.holder
    await index.release("alice", "k", holder=old.holder)
    await index.mark_unknown("alice", "k", holder=old.holder)
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "pending"
    await index.mark_unknown("alice", "k", holder=new.holder)
    assert (await index.claim("alice", "k", "f", lease=30)).outcome == "unknown"


async def test_a_claim_completed_for_a_job_recorded_first_without_the_key(index: Any) -> None:
    """The gateway completes a claim whose job a poll recorded first (no key on the row)."""
    await index.claim("alice", "k", "f", lease=30)
    await index.observe("sim", "job-1", Video(id="job-1:sim", status="queued"))
    stored = await index.add(_record("job-1", "k"))
    if stored.idempotency_key is None and hasattr(index, "complete_claim"):
        await index.complete_claim("alice", "k", "sim", "job-1")
    claimed = await index.claim("alice", "k", "f", lease=30)
    assert claimed.outcome == "existing"
    assert claimed.record is not None
    assert claimed.record.native_id == "job-1"


async def test_fifty_concurrent_claims_on_one_sqlite_file_have_one_winner(tmp_path: Path) -> None:
    """50 tasks over three SQLite connections to one file claim one key: one wins."""
    replicas = [SQLiteJobIndex(tmp_path / "jobs.db") for _ in range(3)]
    outcomes: Counter[str] = Counter()

    async def claim(i: int) -> None:
        claimed = await replicas[i % 3].claim("alice", "k", "f", lease=30)
        outcomes[claimed.outcome] += 1

    try:
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(claim, i)
    finally:
        for replica in replicas:
            await replica.aclose()
    assert outcomes == {"won": 1, "pending": 49}


# -- watch leases ------------------------------------------------------------------------


async def _unfinished_jobs(index: Any, n: int) -> list[str]:
    natives = [f"job-{i}" for i in range(n)]
    for native in natives:
        await index.observe("sim", native, Video(id=f"{native}:sim", status="in_progress"))
    return natives


async def test_leases_go_to_one_watcher_at_a_time(index: Any) -> None:
    """Due jobs are leased once; a leased job is not due until its lease runs out."""
    natives = await _unfinished_jobs(index, 5)
    await index.observe("sim", "done", Video(id="done:sim", status="completed"))
    await index.mark_deleted("sim", "job-4")
    first = await index.lease_unfinished("a", 3, 30)
    second = await index.lease_unfinished("b", 10, 30)
    taken = [r.native_id for r in first + second]
    assert sorted(taken) == natives[:4]
    assert await index.lease_unfinished("c", 10, 30) == []


async def test_a_returned_lease_is_due_again_after_its_pause(index: Any) -> None:
    """return_lease schedules the next poll; only the holder can; None ends the lease."""
    await _unfinished_jobs(index, 1)
    (record,) = await index.lease_unfinished("a", 10, 30)
    await index.return_lease("sim", record.native_id, "intruder", after=0.0)
    assert await index.lease_unfinished("b", 10, 30) == []
    await index.return_lease("sim", record.native_id, "a", after=0.2)
    assert await index.lease_unfinished("b", 10, 30) == []
    await anyio.sleep(0.4)
    assert [r.native_id for r in await index.lease_unfinished("b", 10, 30)] == ["job-0"]
    await index.observe("sim", "job-0", Video(id="job-0:sim", status="completed"))
    await index.return_lease("sim", "job-0", "b", after=None)  # None: it finished
    assert await index.lease_unfinished("c", 10, 30) == []


async def test_a_job_finished_elsewhere_is_dropped_from_the_leases(index: Any) -> None:
    """A job a client's poll saw finish is not leased again, once its lease comes due."""
    await _unfinished_jobs(index, 2)
    leased = await index.lease_unfinished("a", 10, 30)
    for record in leased:
        await index.return_lease("sim", record.native_id, "a", after=0.1)
    await index.observe("sim", "job-0", Video(id="job-0:sim", status="failed"))
    await anyio.sleep(0.3)
    assert [r.native_id for r in await index.lease_unfinished("b", 10, 30)] == ["job-1"]
    await index.observe("sim", "job-2", Video(id="job-2:sim", status="queued"))
    assert [r.native_id for r in await index.lease_unfinished("b", 10, 30)] == ["job-2"]


async def test_a_dead_watchers_lease_runs_out(index: Any) -> None:
    """A watcher that never returns its lease loses the job when the lease runs out."""
    await _unfinished_jobs(index, 2)
    assert len(await index.lease_unfinished("dead", 10, 0.2)) == 2
    assert await index.lease_unfinished("alive", 10, 30) == []
    await anyio.sleep(0.4)
    assert len(await index.lease_unfinished("alive", 10, 30)) == 2


async def test_replicas_leasing_at_once_take_different_jobs(
    request: pytest.FixtureRequest,
) -> None:
    """Three PostgreSQL replicas lease 30 jobs at once: each job goes to one (SKIP LOCKED)."""
    url = request.getfixturevalue("pg_url")
    replicas = [await PostgresJobIndex.connect(url) for _ in range(3)]
    try:
        await _unfinished_jobs(replicas[0], 30)
        got: list[str] = []

        async def lease(i: int) -> None:
            for _ in range(5):
                got.extend(r.native_id for r in await replicas[i].lease_unfinished(str(i), 4, 30))

        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(lease, i)
        assert sorted(got) == sorted(f"job-{i}" for i in range(30))
    finally:
        for replica in replicas:
            await replica.aclose()
