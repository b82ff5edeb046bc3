"""
Claims and watch leases: how processes sharing an index share the work on its jobs.

What an index offers beyond `reelgate.store.JobIndex`, so that several processes (or
replicas) work on one set of jobs without doing anything twice.

*Claims*: an idempotency key is claimed in the index before the create it names is sent,
so processes racing one key send one create upstream (`SupportsClaims`).

*Watch leases*: the background watcher (`reelgate.Gateway.watch`) takes the unfinished
jobs that are due for a poll, one process at a time per job (`SupportsWatch`).

`Claim`, `SupportsClaims` and `SupportsWatch` are re-exported by `reelgate.store` (the
index interface's home) and `reelgate.postgres`. The classes here keep the claims and
leases of `reelgate.store.MemoryJobIndex` and `reelgate.store.SQLiteJobIndex`, apart from
their jobs: the SQLite ones in tables of their own in the same file, on a connection of
their own, every read-modify-write under ``BEGIN IMMEDIATE`` (so processes sharing the
file agree).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

import anyio.to_thread
import attrs

if TYPE_CHECKING:
    from .store import JobRecord

__all__ = ["Claim", "SupportsClaims", "SupportsWatch"]

T = TypeVar("T")

#: The statuses after which a job needs no watching (`reelgate.VideoStatus.is_terminal`).
TERMINAL = ("completed", "failed")


@attrs.frozen(kw_only=True)
class Claim:
    """
    The answer to `SupportsClaims.claim`.

    Attributes:
        outcome: ``won``: the caller holds the key for the lease and must next `add` the
            job it creates with this key (which completes the claim), or `release` the key
            when nothing was sent upstream, or `mark_unknown` it when the create's outcome
            is unknown, passing `holder` to both. ``existing``: a job was recorded with
            this key (`record`). ``pending``: another caller holds the key and its lease
            runs. ``mismatch``: the key was claimed for a different request (another
            fingerprint). ``unknown``: a previous holder's create may or may not have
            reached the provider.
        record: The job recorded with the key, for ``existing``.
        holder: For ``won``, the token that proves the caller holds the claim: only it
            releases or marks the claim, so a holder whose lease was taken over cannot
            touch the new holder's claim.
    """

    outcome: Literal["won", "existing", "pending", "mismatch", "unknown"]
    record: JobRecord | None = None
    holder: str | None = None


@runtime_checkable
class SupportsClaims(Protocol):
    """
    A job index that claims idempotency keys before the create they name is sent.

    A won claim ends in exactly one of: `reelgate.store.JobIndex.add` of the created job
    with the key (the claim is complete), `release` (nothing was sent), `mark_unknown`
    (the create's outcome is unknown). `reelgate.postgres.PostgresJobIndex.claim`
    describes the semantics every index follows.
    """

    async def claim(
        self, owner: str | None, idempotency_key: str, fingerprint: str, *, lease: float
    ) -> Claim:
        """Claim the key for a request whose fields hash to `fingerprint`."""
        ...

    async def release(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """Give a held claim back (only its `holder` can): nothing was sent upstream."""
        ...

    async def mark_unknown(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """Record that a held claim's create may or may not have reached the provider."""
        ...


@runtime_checkable
class SupportsWatch(Protocol):
    """
    A job index that leases its unfinished jobs to watchers, one watcher at a time per job.

    A lease is both a lock and a schedule: a job is *due* when it has no lease or its
    lease ran out. `lease_unfinished` leases due jobs to a watcher; the watcher polls each
    and hands it back with `return_lease`, saying when it is next due. A watcher that dies
    hands nothing back: its jobs fall due when their leases run out, and another watcher
    takes them.
    """

    async def lease_unfinished(self, holder: str, limit: int, lease: float) -> list[JobRecord]:
        """
        Lease up to `limit` due, unfinished, undeleted jobs to `holder` for `lease` seconds.

        Jobs due longest come first.
        """
        ...

    async def return_lease(
        self, instance: str, native_id: str, holder: str, *, after: float | None
    ) -> None:
        """
        Hand a leased job back, due again in `after` seconds (None: it finished).

        Does nothing when `holder` no longer holds the job's lease (it was taken over).
        """
        ...


def _check_lease(lease: float) -> None:
    if not lease > 0:
        raise ValueError(f"lease must be a positive number of seconds; got {lease!r}")


def new_holder() -> str:
    """A fresh holder token."""
    return uuid.uuid4().hex


class JobLookup(Protocol):
    """What the claim books need from their index."""

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None: ...

    async def get(self, instance: str, native_id: str) -> JobRecord | None: ...


@attrs.define
class _Held:
    fingerprint: str
    holder: str
    state: Literal["held", "unknown", "done"]
    expires: float
    job: tuple[str, str] | None = None


class MemoryClaims:
    """
    Claims and watch leases of an index in this process's memory.

    Args:
        jobs: The index (its `find_idempotent`).
        unfinished: Every unfinished, undeleted job of the index, oldest first.
    """

    def __init__(self, jobs: JobLookup, unfinished: Callable[[], list[JobRecord]]) -> None:
        self._jobs = jobs
        self._unfinished = unfinished
        self._claims: dict[tuple[str, str], _Held] = {}
        self._leases: dict[tuple[str, str], tuple[str, float]] = {}

    async def claim(
        self, owner: str | None, idempotency_key: str, fingerprint: str, *, lease: float
    ) -> Claim:
        _check_lease(lease)
        slot = (owner or "", idempotency_key)
        held = self._claims.get(slot)
        if held is not None and held.fingerprint != fingerprint:
            return Claim(outcome="mismatch")
        if (job := await self._jobs.find_idempotent(owner, idempotency_key)) is not None:
            return Claim(outcome="existing", record=job)
        if held is not None and held.job is not None:
            return Claim(outcome="existing", record=await self._jobs.get(*held.job))
        now = time.monotonic()
        if held is None or (held.state == "held" and held.expires < now):
            holder = new_holder()
            self._claims[slot] = _Held(fingerprint, holder, "held", now + lease)
            return Claim(outcome="won", holder=holder)
        return Claim(outcome="unknown" if held.state == "unknown" else "pending")

    def _held(self, owner: str | None, key: str, holder: str) -> _Held | None:
        held = self._claims.get((owner or "", key))
        return held if held is not None and held.holder == holder and held.state == "held" else None

    async def release(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        if self._held(owner, idempotency_key, holder) is not None:
            del self._claims[(owner or "", idempotency_key)]

    async def mark_unknown(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        if (held := self._held(owner, idempotency_key, holder)) is not None:
            held.state = "unknown"

    async def complete(
        self, owner: str | None, idempotency_key: str, instance: str, native_id: str
    ) -> None:
        """Name the job a claim created (for one another process recorded first, keyless)."""
        held = self._claims.get((owner or "", idempotency_key))
        if held is not None:
            held.state = "done"
            held.job = (instance, native_id)

    async def lease_unfinished(self, holder: str, limit: int, lease: float) -> list[JobRecord]:
        _check_lease(lease)
        now = time.monotonic()
        due = [
            (self._leases.get((r.instance, r.native_id), ("", 0.0))[1], r.seq, r)
            for r in self._unfinished()
            if self._leases.get((r.instance, r.native_id), ("", 0.0))[1] <= now
        ]
        due.sort(key=lambda item: (item[0], item[1]))
        chosen = [r for _, _, r in due[: max(limit, 0)]]
        for r in chosen:
            self._leases[(r.instance, r.native_id)] = (holder, now + lease)
        return chosen

    async def return_lease(
        self, instance: str, native_id: str, holder: str, *, after: float | None
    ) -> None:
        key = (instance, native_id)
        if (held := self._leases.get(key)) is None or held[0] != holder:
            return
        if after is None:
            del self._leases[key]
        else:
            self._leases[key] = (holder, time.monotonic() + after)


#: The tables, created by the SQLite index's schema (a migration of its own).
CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    owner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    holder TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'unknown', 'done')),
    expires_at REAL,
    instance TEXT,
    native_id TEXT,
    PRIMARY KEY (owner, idempotency_key)
);
CREATE TABLE IF NOT EXISTS watch_leases (
    instance TEXT NOT NULL,
    native_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    holder TEXT NOT NULL,
    leased_until REAL NOT NULL,
    PRIMARY KEY (instance, native_id)
);
CREATE INDEX IF NOT EXISTS watch_leases_due ON watch_leases (leased_until);
CREATE INDEX IF NOT EXISTS watch_leases_seq ON watch_leases (seq);
"""

#: ``leased_until`` of a job that needs no more watching (finished, deleted).
_NEVER = 1e300

#: Leases that ran out, the longest due first, with what the job's row says now.
_DUE = (
    "SELECT w.instance, w.native_id, j.deleted, j.video IS NULL, "
    "json_extract(j.video, '$.status') FROM watch_leases w LEFT JOIN jobs j "
    "ON j.instance = w.instance AND j.native_id = w.native_id "
    "WHERE w.leased_until <= ? ORDER BY w.leased_until LIMIT ?"
)

#: Jobs recorded after the newest one the leases know (seq is the jobs' rowid).
_NEW = (
    "SELECT seq, instance, native_id, deleted, video IS NULL, "
    "json_extract(video, '$.status') FROM jobs WHERE seq > ? ORDER BY seq LIMIT ?"
)


def _take_due(
    db: sqlite3.Connection,
    chosen: list[tuple[str, str]],
    holder: str,
    *,
    now: float,
    until: float,
    want: int,
) -> None:
    """Lease the rows whose time came; mark those of finished or deleted jobs never."""
    while len(chosen) < want:
        due = db.execute(_DUE, (now, want - len(chosen))).fetchall()
        if not due:
            return
        for instance, native, deleted, no_video, status in due:
            watched = _watched(deleted, no_video, status)
            if watched:
                chosen.append((instance, native))
            db.execute(
                "UPDATE watch_leases SET holder = ?, leased_until = ? "
                "WHERE instance = ? AND native_id = ?",
                (holder, until if watched else _NEVER, instance, native),
            )


def _take_new(
    db: sqlite3.Connection, chosen: list[tuple[str, str]], holder: str, until: float, want: int
) -> None:
    """Lease jobs no lease row knows yet, oldest first, stopping where the round is full."""
    while len(chosen) < want:
        newest = db.execute("SELECT coalesce(max(seq), 0) FROM watch_leases").fetchone()
        new = db.execute(_NEW, (newest[0], max(want - len(chosen), 64))).fetchall()
        if not new:
            return
        for seq, instance, native, deleted, no_video, status in new:
            watched = _watched(deleted, no_video, status)
            if watched and len(chosen) == want:
                return  # the next round starts here: no job is skipped
            if watched:
                chosen.append((instance, native))
            db.execute(
                "INSERT OR REPLACE INTO watch_leases "
                "(instance, native_id, seq, holder, leased_until) VALUES (?, ?, ?, ?, ?)",
                (instance, native, seq, holder, until if watched else _NEVER),
            )


def _watched(deleted: object, no_video: object, status: object) -> bool:
    """Whether a job's row says it still needs watching."""
    if deleted is None or deleted:  # no row (cannot happen), or deleted
        return False
    return bool(no_video) or status not in TERMINAL


class SQLiteClaims:
    """
    Claims and watch leases in an SQLite index's file (tables ``claims``, ``watch_leases``).

    The file's ``jobs`` table is read (a job recorded with a key completes its claim) and
    never written. A connection of its own, opened on first use; the clock is this host's
    (SQLite files are shared by the processes of one host).

    Args:
        path: The index's database file.
        jobs: The index (its `get`), to answer full records.
        timeout: Seconds a statement waits for another process's write lock.
    """

    def __init__(self, path: Path, jobs: JobLookup, *, timeout: float = 30.0) -> None:
        self._path = path
        self._jobs = jobs
        self._timeout = timeout
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        return self._db

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(db)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                return result

        return await anyio.to_thread.run_sync(locked)

    async def claim(
        self, owner: str | None, idempotency_key: str, fingerprint: str, *, lease: float
    ) -> Claim:
        _check_lease(lease)
        holder = new_holder()
        slot = (owner or "", idempotency_key)

        def claim(db: sqlite3.Connection) -> tuple[str, tuple[str, str] | None]:
            held = db.execute(
                "SELECT fingerprint, holder, state, expires_at, instance, native_id FROM claims "
                "WHERE owner = ? AND idempotency_key = ?",
                slot,
            ).fetchone()
            if held is not None and held[0] != fingerprint:
                return "mismatch", None
            job = db.execute(
                "SELECT instance, native_id FROM jobs "
                "WHERE coalesce(owner, '') = ? AND idempotency_key = ?",
                slot,
            ).fetchone()
            if job is not None:
                return "existing", (job[0], job[1])
            if held is not None and held[2] == "done":
                return "existing", (held[4], held[5])
            now = time.time()
            if held is None or (held[2] == "held" and held[3] < now):
                db.execute(
                    "INSERT OR REPLACE INTO claims "
                    "(owner, idempotency_key, fingerprint, holder, state, expires_at) "
                    "VALUES (?, ?, ?, ?, 'held', ?)",
                    (*slot, fingerprint, holder, now + lease),
                )
                return "won", None
            return ("unknown" if held[2] == "unknown" else "pending"), None

        outcome, job = await self._write(claim)
        if outcome == "won":
            return Claim(outcome="won", holder=holder)
        if job is not None:
            return Claim(outcome="existing", record=await self._jobs.get(*job))
        return Claim(outcome=outcome)  # type: ignore[arg-type]  # one of the remaining three

    async def release(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        await self._write(
            lambda db: db.execute(
                "DELETE FROM claims WHERE owner = ? AND idempotency_key = ? AND holder = ? "
                "AND state = 'held'",
                (owner or "", idempotency_key, holder),
            )
        )

    async def mark_unknown(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE claims SET state = 'unknown', expires_at = NULL "
                "WHERE owner = ? AND idempotency_key = ? AND holder = ? AND state = 'held'",
                (owner or "", idempotency_key, holder),
            )
        )

    async def complete(
        self, owner: str | None, idempotency_key: str, instance: str, native_id: str
    ) -> None:
        """Name the job a claim created (for one another process recorded first, keyless)."""
        await self._write(
            lambda db: db.execute(
                "UPDATE claims SET state = 'done', expires_at = NULL, instance = ?, "
                "native_id = ? WHERE owner = ? AND idempotency_key = ?",
                (instance, native_id, owner or "", idempotency_key),
            )
        )

    async def lease_unfinished(self, holder: str, limit: int, lease: float) -> list[JobRecord]:
        _check_lease(lease)

        def take(db: sqlite3.Connection) -> list[tuple[str, str]]:
            # Every job has a lease row from its first lease on: a lease is taken from
            # the rows whose time came (an index on leased_until), and from the jobs
            # newer than any row (by seq); a finished or deleted job's row says never.
            # Each round reads about `limit` rows, however many jobs the file holds.
            now = time.time()
            chosen: list[tuple[str, str]] = []
            _take_due(db, chosen, holder, now=now, until=now + lease, want=max(limit, 0))
            _take_new(db, chosen, holder, now + lease, max(limit, 0))
            return chosen

        records = [await self._jobs.get(*job) for job in await self._write(take)]
        return [r for r in records if r is not None]

    async def return_lease(
        self, instance: str, native_id: str, holder: str, *, after: float | None
    ) -> None:
        def give(db: sqlite3.Connection) -> None:
            if after is None:
                db.execute(
                    "UPDATE watch_leases SET leased_until = ? "
                    "WHERE instance = ? AND native_id = ? AND holder = ?",
                    (_NEVER, instance, native_id, holder),
                )
            else:
                db.execute(
                    "UPDATE watch_leases SET leased_until = ? "
                    "WHERE instance = ? AND native_id = ? AND holder = ?",
                    (time.time() + after, instance, native_id, holder),
                )

        await self._write(give)

    def close(self) -> None:
        """Close the connection (if one was opened)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class ClaimsBy:
    """
    The claim and lease methods of an index, forwarded to its `_claims` book.

    `reelgate.store.MemoryJobIndex` and `reelgate.store.SQLiteJobIndex` inherit them; each
    sets ``_claims`` to a `MemoryClaims` or `SQLiteClaims`.
    """

    _claims: Any

    async def claim(
        self, owner: str | None, idempotency_key: str, fingerprint: str, *, lease: float
    ) -> Claim:
        """Claim an idempotency key before sending the create it names (`SupportsClaims`)."""
        claim: Claim = await self._claims.claim(owner, idempotency_key, fingerprint, lease=lease)
        return claim

    async def release(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """Give a won claim back: nothing was sent upstream (`SupportsClaims`)."""
        await self._claims.release(owner, idempotency_key, holder=holder)

    async def mark_unknown(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """Record that a won claim's create may have reached the provider (`SupportsClaims`)."""
        await self._claims.mark_unknown(owner, idempotency_key, holder=holder)

    async def complete_claim(
        self, owner: str | None, idempotency_key: str, instance: str, native_id: str
    ) -> None:
        """
        Complete a claim whose job `add` found recorded already without the key.

        (A poll in another process recorded the new job first.) The PostgreSQL index's
        `add` does this itself; the gateway calls this for the others.
        """
        await self._claims.complete(owner, idempotency_key, instance, native_id)

    async def lease_unfinished(self, holder: str, limit: int, lease: float) -> list[JobRecord]:
        """Lease due unfinished jobs to a watcher (`SupportsWatch`)."""
        records: list[JobRecord] = await self._claims.lease_unfinished(holder, limit, lease)
        return records

    async def return_lease(
        self, instance: str, native_id: str, holder: str, *, after: float | None
    ) -> None:
        """Hand a leased job back, due again in `after` seconds (`SupportsWatch`)."""
        await self._claims.return_lease(instance, native_id, holder, after=after)
