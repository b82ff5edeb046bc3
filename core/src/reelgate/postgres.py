"""
A job index in PostgreSQL, shared by every replica of a gateway.

Install ``reelgate[postgres]`` and set ``REELGATE_INDEX_URL`` (or the variable
``[index] url_env`` names) to a ``postgresql://`` URL; `reelgate.Gateway.from_config` then
uses this index. It keeps the semantics of `reelgate.store.SQLiteJobIndex` (cursors on
``(created_at, seq)``, the true ``created_at``, key affinity, owner scoping, idempotency,
the status machine, tombstoned deletes) and adds *claims*, so replicas racing one
idempotency key send one create upstream.

psycopg's async connection runs only under asyncio, and reelgate runs under trio too; so
the index uses psycopg's sync API on a small pool of connections, each call in an AnyIO
worker thread (one thread per pooled connection at most). Measured with
``benchmarks/index_bench.py`` (two runs on a busy 2-core machine), that costs little: a
``get`` through worker threads ran at 0.7 to 2 times the rate of the same query through
psycopg's asyncio pool one call at a time, and 1.3 to 3 times with 16 callers.

Reads are single statements in autocommit and never lock; a write happens only when the
state changed, guarded by a row revision rather than a row lock (optimistic: a
concurrent writer makes the loser read again and merge once more).

The schema is versioned in ``reelgate_schema``; migrations run at start inside one
transaction holding an advisory lock, so replicas starting together apply each once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import attrs

from . import wire
from .claims import Claim, SupportsClaims, SupportsWatch
from .errors import ConfigurationError, IndexUnavailableError, InvalidRequestError
from .model import Order, Video
from .store import JobRecord, _merge, _unknown_after

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = [
    "SCHEMA_VERSION",
    "Claim",
    "PostgresJobIndex",
    "SupportsClaims",
    "SupportsWatch",
    "check_url",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Taken (as a transaction-level advisory lock) while the schema is checked and migrated.
_MIGRATION_LOCK = 0x7265656C67617465  # "reelgate"

#: The schema's migrations, in order: version n is ``_MIGRATIONS[n - 1]``. Never edit one
#: that has shipped: add the next.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE reelgate_jobs (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        instance text NOT NULL,
        native_id text NOT NULL,
        created_at double precision NOT NULL,
        key_name text,
        owner text,
        idempotency_key text,
        remixed_from text,
        deleted boolean NOT NULL DEFAULT false,
        video json,
        provider_state json,
        revision bigint NOT NULL DEFAULT 0,
        UNIQUE (instance, native_id)
    );
    CREATE UNIQUE INDEX reelgate_jobs_idempotency
        ON reelgate_jobs (coalesce(owner, ''), idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX reelgate_jobs_by_time ON reelgate_jobs (instance, created_at, seq);
    CREATE TABLE reelgate_claims (
        owner text NOT NULL,
        idempotency_key text NOT NULL,
        fingerprint text,
        holder uuid,
        state text NOT NULL CHECK (state IN ('held', 'unknown', 'done')),
        expires_at timestamptz,
        instance text,
        native_id text,
        PRIMARY KEY (owner, idempotency_key)
    );
    """,
    # The watcher's leases: a job is due when leased_until (the database's clock, unix
    # seconds) is NULL or past. The status is read from the JSON text, not with ->>:
    # a stored text holding a NUL escape cannot be turned into PostgreSQL text, and
    # ->> fails on it. The top-level "status" is the first such key in the text (every
    # string value before it escapes its quotes).
    """
    ALTER TABLE reelgate_jobs ADD COLUMN lease_holder text,
        ADD COLUMN leased_until double precision;
    CREATE INDEX reelgate_jobs_unfinished ON reelgate_jobs (leased_until NULLS FIRST, seq)
        WHERE NOT deleted AND (video IS NULL OR
            substring(video::text from '"status": *"([a-z_]+)"') NOT IN ('completed', 'failed'));
    """,
)

#: The schema version this code writes.
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = (
    "seq, instance, native_id, created_at, key_name, owner, idempotency_key, remixed_from, "
    "deleted, video, provider_state"
)

_JOINED = ", ".join(f"j.{column.strip()}" for column in _COLUMNS.split(","))

#: Lease the due unfinished jobs (the watcher's), skipping rows another replica is leasing.
_LEASE = (
    "WITH due AS (SELECT seq FROM reelgate_jobs "  # noqa: S608  # constant columns
    "WHERE NOT deleted AND (video IS NULL OR "
    "substring(video::text from '\"status\": *\"([a-z_]+)\"') NOT IN ('completed', 'failed')) "
    "AND (leased_until IS NULL OR "
    "leased_until <= extract(epoch FROM now())) "
    # The order of the partial index: the scan stops after `limit` due jobs.
    "ORDER BY leased_until NULLS FIRST, seq LIMIT %s FOR UPDATE SKIP LOCKED) "
    "UPDATE reelgate_jobs j SET lease_holder = %s, "
    "leased_until = extract(epoch FROM now()) + %s "
    f"FROM due WHERE j.seq = due.seq RETURNING {_JOINED}"
)


def check_url(url: str) -> None:
    """
    Refuse a URL that is not a usable ``postgresql://`` connection URL.

    Raises:
        ConfigurationError: The URL is malformed (the message never contains a password).
    """
    import psycopg.conninfo  # noqa: PLC0415  # the extra may be missing: import on use

    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError("the job index URL must start with postgresql:// or postgres://")
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        # libpq's message may quote the URL, password included: never repeat it.
        raise ConfigurationError("the job index URL is not a valid postgresql:// URL") from None
    for port in str(params.get("port") or "5432").split(","):
        if not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigurationError(f"the job index URL's port {port!r} is not a port number")


def _where(url: str) -> str:
    """``host:port/dbname`` of a URL, for messages (never the user or password)."""
    import psycopg.conninfo  # noqa: PLC0415

    params = psycopg.conninfo.conninfo_to_dict(url)
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or ''}".rstrip("/")


class PostgresJobIndex:
    """
    A job index in a PostgreSQL database, safe for any number of replicas.

    Opening it connects, checks the schema and applies missing migrations, so a broken
    URL or an unreachable database fails here, at start.

    Args:
        url: A ``postgresql://`` URL. Without a password in it, libpq's own sources apply
            (``PGPASSWORD``, ``~/.pgpass``).
        max_connections: The most connections (and worker threads) the index uses.
        connect_timeout: Seconds to wait for the database at start, and for a connection
            in a request before answering `reelgate.IndexUnavailableError`.

    Raises:
        ConfigurationError: The URL is malformed, the database is unreachable or refuses
            the login, or its schema is newer than this code.
    """

    def __init__(self, url: str, *, max_connections: int = 4, connect_timeout: float = 5.0) -> None:
        try:
            import psycopg  # noqa: PLC0415  # an optional extra
            import psycopg_pool  # noqa: PLC0415
            from psycopg.types.json import Json  # noqa: PLC0415
        except ImportError:
            raise ConfigurationError(
                "a postgresql:// job index needs the postgres extra: "
                "pip install 'reelgate[postgres]'"
            ) from None
        check_url(url)
        self._psycopg = psycopg
        self._json_value = Json
        self._url = url
        self._where = _where(url)
        self._timeout = connect_timeout
        self._max_connections = max_connections
        self._limiter = anyio.CapacityLimiter(max_connections)
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = (
            psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=max_connections,
                kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
                open=False,
                timeout=connect_timeout,
                # A lost connection is retried for a while, then its slot is dropped;
                # the next request that finds the pool empty tries again, so the
                # index recovers as soon as the database is back, however long it
                # was away.
                reconnect_timeout=max(10.0, connect_timeout),
                name="reelgate-index",
            )
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise ConfigurationError(
                f"the job index database at {self._where} is unreachable "
                f"(no connection within {connect_timeout:g}s): {self._reason()}"
            ) from None
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresJobIndex({self._where!r})"

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> PostgresJobIndex:
        """Open an index without blocking the event loop (see the class for arguments)."""
        return await anyio.to_thread.run_sync(lambda: cls(url, **kwargs))

    def _reason(self) -> str:
        """Why connecting failed, as libpq said it (libpq never prints the password)."""
        try:
            with self._psycopg.connect(self._url, connect_timeout=max(1, round(self._timeout))):
                return "the pool could not connect in time"
        except self._psycopg.Error as e:
            return " ".join(line.strip() for line in str(e).splitlines()) or type(e).__name__

    def _migrate(self) -> None:
        try:
            self._apply_migrations()
        except self._psycopg.Error as e:
            reason = " ".join(line.strip() for line in str(e).splitlines())
            raise ConfigurationError(
                f"the job index database at {self._where} cannot hold reelgate's schema: {reason}"
            ) from None

    def _apply_migrations(self) -> None:
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS reelgate_schema "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = db.execute("SELECT max(version) FROM reelgate_schema").fetchone()
            current = row[0] if row and row[0] is not None else 0
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the job index database at {self._where} has schema version {current}, "
                    f"newer than this reelgate's {SCHEMA_VERSION}: upgrade reelgate on every "
                    "replica (a schema is never downgraded)"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                log.info("job index %s: applying schema version %d", self._where, version)
                db.execute(_MIGRATIONS[version - 1])
                db.execute("INSERT INTO reelgate_schema (version) VALUES (%s)", (version,))

    async def _run(self, fn: Callable[[psycopg.Connection[tuple[Any, ...]]], T]) -> T:
        """
        Run `fn` with a pooled connection in a worker thread.

        A connection the server dropped (a restart) fails once and the pool discards it;
        `fn` is then tried on another, so every `fn` must be safe to repeat (each is: a
        repeated write finds its own first effect).
        """
        import psycopg_pool  # noqa: PLC0415  # imported at construction already

        def attempt() -> T:
            for tries in range(self._max_connections + 1):
                try:
                    with self._pool.connection() as db:
                        try:
                            return fn(db)
                        except self._psycopg.OperationalError as e:
                            if not db.broken or tries == self._max_connections:
                                raise self._unavailable(e) from None
                        except (self._psycopg.DataError, UnicodeEncodeError):
                            # A NUL or a lone surrogate in an id or key: PostgreSQL's text
                            # cannot hold it, so no such job can exist either.
                            raise InvalidRequestError(
                                "ids, keys and names cannot contain NUL characters or "
                                "unpaired surrogates"
                            ) from None
                except psycopg_pool.PoolTimeout as e:
                    raise self._unavailable(e) from None
            raise AssertionError("unreachable")  # pragma: no cover

        return await anyio.to_thread.run_sync(attempt, limiter=self._limiter)

    def _unavailable(self, e: Exception) -> IndexUnavailableError:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return IndexUnavailableError(
            f"the job index database at {self._where} is unavailable: {reason}"
        )

    # -- rows --------------------------------------------------------------------------

    @staticmethod
    def _record(row: Sequence[Any]) -> JobRecord:
        seq, instance, native_id, created_at, key_name, owner, idem, remixed, deleted = row[:9]
        video, state = row[9:11]
        return JobRecord(
            seq=seq,
            instance=instance,
            native_id=native_id,
            created_at=created_at,
            key_name=key_name,
            owner=owner,
            idempotency_key=idem,
            remixed_from=remixed,
            deleted=deleted,
            video=wire.video_from_dict(video) if video is not None else None,
            provider_state=state,
        )

    def _json(self, value: Any) -> Any:
        return None if value is None else self._json_value(value)

    def _video(self, video: Video | None) -> Any:
        return None if video is None else self._json(wire.video_to_dict(video))

    def _values(self, r: JobRecord) -> tuple[Any, ...]:
        return (
            r.instance,
            r.native_id,
            r.created_at,
            r.key_name,
            r.owner,
            r.idempotency_key,
            r.remixed_from,
            r.deleted,
            self._video(r.video),
            self._json(r.provider_state),
        )

    _INSERT = (
        "INSERT INTO reelgate_jobs (instance, native_id, created_at, key_name, owner, "
        "idempotency_key, remixed_from, deleted, video, provider_state) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    )

    @staticmethod
    def _get(
        db: psycopg.Connection[tuple[Any, ...]], instance: str, native_id: str
    ) -> tuple[JobRecord, int] | None:
        row = db.execute(
            f"SELECT {_COLUMNS}, revision FROM reelgate_jobs "  # noqa: S608  # constant columns
            "WHERE instance = %s AND native_id = %s",
            (instance, native_id),
        ).fetchone()
        return (PostgresJobIndex._record(row), row[11]) if row else None

    @staticmethod
    def _by_key(
        db: psycopg.Connection[tuple[Any, ...]], owner: str | None, key: str
    ) -> JobRecord | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM reelgate_jobs "  # noqa: S608  # constant columns
            "WHERE coalesce(owner, '') = %s AND idempotency_key = %s",
            (owner or "", key),
        ).fetchone()
        return PostgresJobIndex._record(row) if row else None

    # -- the JobIndex interface --------------------------------------------------------

    async def add(self, record: JobRecord) -> JobRecord:  # noqa: D102
        def add(db: psycopg.Connection[tuple[Any, ...]]) -> JobRecord:
            with db.transaction():
                row = db.execute(
                    f"{self._INSERT} ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                    self._values(record),
                ).fetchone()
                if row is not None:
                    stored = self._record(row)
                elif (known := self._get(db, record.instance, record.native_id)) is not None:
                    stored = known[0]
                else:
                    assert record.idempotency_key is not None  # noqa: S101  # the other key
                    first = self._by_key(db, record.owner, record.idempotency_key)
                    assert first is not None  # noqa: S101  # rows are never removed
                    stored = first
                if record.idempotency_key is not None:
                    # The key's claim (if any) is complete and names the job, even one a
                    # poll recorded first without the key; a key used without a claim is
                    # marked used all the same.
                    db.execute(
                        "INSERT INTO reelgate_claims AS c "
                        "(owner, idempotency_key, state, instance, native_id) "
                        "VALUES (%s, %s, 'done', %s, %s) ON CONFLICT (owner, idempotency_key) "
                        "DO UPDATE SET state = 'done', holder = NULL, expires_at = NULL, "
                        "instance = EXCLUDED.instance, native_id = EXCLUDED.native_id "
                        "WHERE c.state <> 'done'",
                        (
                            record.owner or "",
                            record.idempotency_key,
                            stored.instance,
                            stored.native_id,
                        ),
                    )
            return stored

        return await self._run(add)

    async def get(self, instance: str, native_id: str) -> JobRecord | None:  # noqa: D102
        def get(db: psycopg.Connection[tuple[Any, ...]]) -> JobRecord | None:
            found = self._get(db, instance, native_id)
            return found[0] if found else None

        return await self._run(get)

    async def observe(  # noqa: D102
        self,
        instance: str,
        native_id: str,
        video: Video,
        *,
        provider_state: Mapping[str, Any] | None = None,
    ) -> Video:
        def observe(db: psycopg.Connection[tuple[Any, ...]]) -> Video:
            while True:
                found = self._get(db, instance, native_id)
                if found is None:
                    record = JobRecord(
                        instance=instance,
                        native_id=native_id,
                        created_at=video.created_at or time.time(),
                    )
                    merged = _merge(record, video)
                    inserted = db.execute(
                        f"{self._INSERT} ON CONFLICT DO NOTHING RETURNING seq",
                        self._values(
                            attrs.evolve(record, video=merged, provider_state=provider_state)
                        ),
                    ).fetchone()
                    if inserted is not None:
                        return merged
                    continue  # recorded by someone else meanwhile: merge with theirs
                record, revision = found
                merged = _merge(record, video)
                state = record.provider_state if provider_state is None else provider_state
                if merged == record.video and state == record.provider_state:
                    return merged  # nothing new: no write
                updated = db.execute(
                    "UPDATE reelgate_jobs SET video = %s, provider_state = %s, "
                    "revision = revision + 1 "
                    "WHERE instance = %s AND native_id = %s AND revision = %s",
                    (self._video(merged), self._json(state), instance, native_id, revision),
                )
                if updated.rowcount == 1:
                    return merged
                # Another writer got there first: merge with what it stored.

        return await self._run(observe)

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None:  # noqa: D102
        return await self._run(lambda db: self._by_key(db, owner, key))

    async def mark_deleted(self, instance: str, native_id: str) -> None:  # noqa: D102
        tombstone = JobRecord(
            instance=instance, native_id=native_id, created_at=time.time(), deleted=True
        )

        def mark(db: psycopg.Connection[tuple[Any, ...]]) -> None:
            db.execute(
                f"{self._INSERT} ON CONFLICT (instance, native_id) DO UPDATE "
                "SET deleted = true, revision = reelgate_jobs.revision + 1 "
                "WHERE NOT reelgate_jobs.deleted",
                self._values(tombstone),
            )

        await self._run(mark)

    async def page(  # noqa: D102
        self,
        instance: str,
        *,
        limit: int,
        order: Order,
        after: str | None,
        owner: str | None = None,
    ) -> tuple[list[JobRecord], bool]:
        def page(db: psycopg.Connection[tuple[Any, ...]]) -> tuple[list[JobRecord], bool]:
            where = ["instance = %s", "NOT deleted"]
            args: list[Any] = [instance]
            if owner is not None:
                where.append("owner = %s")
                args.append(owner)
            if after is not None:
                cursor = db.execute(
                    "SELECT created_at, seq FROM reelgate_jobs "
                    "WHERE instance = %s AND native_id = %s",
                    (instance, after),
                ).fetchone()
                if cursor is None:
                    raise _unknown_after(after)
                op = "<" if order == "desc" else ">"
                where.append(f"(created_at, seq) {op} (%s, %s)")
                args.extend(cursor)
            direction = "DESC" if order == "desc" else "ASC"
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM reelgate_jobs WHERE {' AND '.join(where)} "  # noqa: S608  # built from constants
                f"ORDER BY created_at {direction}, seq {direction} LIMIT %s",
                (*args, limit + 1),
            ).fetchall()
            records = [self._record(row) for row in rows]
            return records[:limit], len(records) > limit

        return await self._run(page)

    async def aclose(self) -> None:  # noqa: D102
        await anyio.to_thread.run_sync(self._pool.close)

    # -- claims ------------------------------------------------------------------------

    async def claim(
        self, owner: str | None, idempotency_key: str, fingerprint: str, *, lease: float
    ) -> Claim:
        """
        Claim an idempotency key before sending the create it names.

        Args:
            owner: Who creates (the key's scope), as for `add`.
            idempotency_key: The create's idempotency key.
            fingerprint: What identifies the request (e.g. a hash of its fields): the same
                key with another fingerprint is a ``mismatch``.
            lease: Seconds the claim is held; choose it longer than a create can take.
                When it runs out before the holder calls `add`, `release` or
                `mark_unknown` (the holder died), the next caller with the same
                fingerprint takes the claim over (``won``).

        The outcome-unknown case: a holder that sent the create and then lost the answer
        calls `mark_unknown`, and every later claim of the key answers ``unknown`` until
        the job is recorded with `add` (found upstream, say). A holder killed between
        sending and recording can mark nothing: after its lease the claim is taken over,
        and a second create may be sent. The lease is measured on the database's clock,
        so replicas' clocks do not matter.

        Returns:
            See `Claim`.

        Raises:
            ValueError: `lease` is not positive.
        """
        if not lease > 0:
            raise ValueError(f"lease must be a positive number of seconds; got {lease!r}")
        holder = uuid.uuid4()

        def claim(db: psycopg.Connection[tuple[Any, ...]]) -> Claim:
            won = db.execute(
                "INSERT INTO reelgate_claims AS c "
                "(owner, idempotency_key, fingerprint, holder, state, expires_at) "
                "VALUES (%s, %s, %s, %s, 'held', now() + make_interval(secs => %s)) "
                "ON CONFLICT (owner, idempotency_key) DO UPDATE SET holder = EXCLUDED.holder, "
                "expires_at = EXCLUDED.expires_at "
                # A holder whose lease ran out is taken over, for the same request only.
                "WHERE c.state = 'held' AND c.expires_at < now() "
                "AND c.fingerprint = EXCLUDED.fingerprint "
                "RETURNING holder",
                (owner or "", idempotency_key, fingerprint, holder, lease),
            ).fetchone()
            if won is not None:
                return Claim(outcome="won", holder=holder.hex)
            row = db.execute(
                f"SELECT c.state, c.fingerprint, c.holder, {_JOINED} FROM reelgate_claims c "  # noqa: S608  # constant columns
                "LEFT JOIN reelgate_jobs j "
                "ON (j.instance, j.native_id) = (c.instance, c.native_id) "
                "WHERE c.owner = %s AND c.idempotency_key = %s",
                (owner or "", idempotency_key),
            ).fetchone()
            if row is None:  # pragma: no cover  # claims are never removed but by release
                return Claim(outcome="pending")
            state, claimed, current = row[:3]
            if current == holder:
                # Our own insert, committed before a lost connection was retried.
                return Claim(outcome="won", holder=holder.hex)
            if claimed not in (None, fingerprint):
                return Claim(outcome="mismatch")
            if state == "done":
                job = self._record(row[3:]) if row[3] is not None else None
                return Claim(outcome="existing", record=job)
            # A held claim whose lease ran out between the two statements is pending too:
            # the caller asks again.
            return Claim(outcome="unknown" if state == "unknown" else "pending")

        return await self._run(claim)

    async def release(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """
        Give a won claim back: nothing was sent upstream, the next caller may create.

        Only the claim's `holder` (`Claim.holder`) can: a holder whose lease was taken
        over releases nothing.
        """
        await self._run(
            lambda db: db.execute(
                "DELETE FROM reelgate_claims WHERE owner = %s AND idempotency_key = %s "
                "AND holder = %s AND state = 'held'",
                (owner or "", idempotency_key, uuid.UUID(holder)),
            )
        )

    async def mark_unknown(self, owner: str | None, idempotency_key: str, *, holder: str) -> None:
        """Record that the create of a won claim (its `holder`'s) may have reached the provider."""
        await self._run(
            lambda db: db.execute(
                "UPDATE reelgate_claims SET state = 'unknown', expires_at = NULL "
                "WHERE owner = %s AND idempotency_key = %s AND holder = %s AND state = 'held'",
                (owner or "", idempotency_key, uuid.UUID(holder)),
            )
        )

    # -- watch leases ------------------------------------------------------------------

    async def lease_unfinished(self, holder: str, limit: int, lease: float) -> list[JobRecord]:
        """
        Lease up to `limit` due unfinished jobs to a watcher (`SupportsWatch`).

        ``FOR UPDATE SKIP LOCKED``: replicas leasing at once take different jobs, and
        none waits for another. Leases are measured on the database's clock.
        """
        if not lease > 0:
            raise ValueError(f"lease must be a positive number of seconds; got {lease!r}")

        def take(db: psycopg.Connection[tuple[Any, ...]]) -> list[JobRecord]:
            rows = db.execute(
                _LEASE,
                (max(limit, 0), holder, lease),
            ).fetchall()
            return [self._record(row) for row in rows]

        return await self._run(take)

    async def return_lease(
        self, instance: str, native_id: str, holder: str, *, after: float | None
    ) -> None:
        """Hand a leased job back, due again in `after` seconds (`SupportsWatch`)."""
        await self._run(
            lambda db: db.execute(
                "UPDATE reelgate_jobs SET lease_holder = CASE WHEN %s THEN NULL "
                "ELSE lease_holder END, "
                "leased_until = CASE WHEN %s THEN NULL "
                "ELSE extract(epoch FROM clock_timestamp()) + %s END "
                "WHERE instance = %s AND native_id = %s AND lease_holder = %s",
                (after is None, after is None, after or 0.0, instance, native_id, holder),
            )
        )
