"""
Job index operations per second: memory, SQLite and PostgreSQL.

Method:

1. Each index starts empty (SQLite in a temporary directory; PostgreSQL on a throwaway
   server started exactly as the tests start theirs, ``tests/postgres/local_postgres.py``:
   ``initdb`` + ``pg_ctl`` on 127.0.0.1 with ``fsync=off``, one schema).
2. Operations, each timed over ``N`` calls (``--n``, default 1,000) on one job index:
   ``add`` (N new jobs), ``get`` (N look-ups of known jobs), ``observe-unchanged`` (N polls
   of 64 jobs answering the state stored already: no write), ``observe-changed`` (N polls,
   one per job, each advancing progress: one write each), ``page-20`` (N first pages of 20 out of N jobs,
   newest first, and as many pages after a cursor in the middle, alternately).
3. Each is run one call after another by one task (``seq``: latency-bound), and by 16
   tasks at once (``x16``: throughput), under asyncio; PostgreSQL again under trio.
   Figures are calls per second (N / wall time); the best of ``--rounds`` (default 3).
4. Why worker threads: psycopg's async connection requires asyncio (its waits call
   ``asyncio.get_running_loop``), and reelgate runs under trio too; so the index uses the
   sync API in AnyIO worker threads. For comparison the script also times ``get``'s
   query through psycopg's ``AsyncConnectionPool`` under asyncio (same pool size, same
   statement, rows left undecoded in both).

Run: ``python benchmarks/index_bench.py [--n 1000] [--rounds 3]`` (as root the server runs
as the ``postgres`` user). Needs ``reelgate[postgres]`` and PostgreSQL's server binaries.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from reelgate import Video
from reelgate.postgres import PostgresJobIndex
from reelgate.store import JobIndex, JobRecord, MemoryJobIndex, SQLiteJobIndex

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "postgres"))
from local_postgres import find_bindir, started

CONCURRENCY = 16


async def timed(n: int, tasks: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Calls per second of `op(i)` for i in range(n), spread over `tasks` tasks."""
    start = time.perf_counter()
    if tasks == 1:
        for i in range(n):
            await op(i)
    else:

        async def worker(first: int) -> None:
            for i in range(first, n, tasks):
                await op(i)

        async with anyio.create_task_group() as tg:
            for t in range(tasks):
                tg.start_soon(worker, t)
    return n / (time.perf_counter() - start)


async def run_ops(index: JobIndex, n: int, tasks: int, tag: str) -> dict[str, float]:
    """One round of every operation on `index`; returns calls per second by name."""
    natives = [f"{tag}-{i}" for i in range(n)]
    figures: dict[str, float] = {}

    async def add(i: int) -> None:
        await index.add(JobRecord(instance="sim", native_id=natives[i], created_at=1000.0 + i))

    async def get(i: int) -> None:
        await index.get("sim", natives[(i * 7919) % n])

    seen = Video(id="x:sim", status="in_progress", progress=10)

    async def unchanged(i: int) -> None:
        await index.observe("sim", natives[i % 64], seen)

    async def changed(i: int) -> None:
        # One job per call, each moving on from what is stored: every call writes.
        progress = 11 + 80 * i / n
        await index.observe(
            "sim", natives[i], Video(id="x:sim", status="in_progress", progress=progress)
        )

    middle = natives[n // 2]

    async def page(i: int) -> None:
        await index.page("sim", limit=20, order="desc", after=middle if i % 2 else None)

    figures["add"] = await timed(n, tasks, add)
    figures["get"] = await timed(n, tasks, get)
    for i in range(64):
        await index.observe("sim", natives[i], seen)
    figures["observe-unchanged"] = await timed(n, tasks, unchanged)
    figures["observe-changed"] = await timed(n, tasks, changed)
    figures["page-20"] = await timed(n, tasks, page)
    return figures


async def bench(make: Callable[[], Awaitable[JobIndex]], n: int, rounds: int) -> dict[str, float]:
    """Best of `rounds` for each operation, sequential and concurrent."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for tasks in (1, CONCURRENCY):
            index = await make()
            try:
                figures = await run_ops(index, n, tasks, uuid.uuid4().hex[:8])
            finally:
                await index.aclose()
            mode = "seq" if tasks == 1 else f"x{tasks}"
            for name, value in figures.items():
                key = f"{name} {mode}"
                best[key] = max(best.get(key, 0.0), value)
    return best


async def async_psycopg_get(url: str, n: int, rounds: int) -> dict[str, float]:
    """The `get` query through psycopg's asyncio pool, for comparison."""
    import psycopg_pool  # noqa: PLC0415

    query = (
        "SELECT seq, instance, native_id, created_at, key_name, owner, idempotency_key, "
        "remixed_from, deleted, video, provider_state, revision FROM reelgate_jobs "
        "WHERE instance = %s AND native_id = %s"
    )
    best: dict[str, float] = {}
    async with psycopg_pool.AsyncConnectionPool(
        url, min_size=4, max_size=4, kwargs={"autocommit": True}
    ) as pool:
        for _ in range(rounds):
            for tasks in (1, CONCURRENCY):

                async def get(i: int) -> None:
                    async with pool.connection() as db:
                        await (await db.execute(query, ("sim", f"x-{i}"))).fetchone()

                key = "get seq" if tasks == 1 else f"get x{tasks}"
                best[key] = max(best.get(key, 0.0), await timed(n, tasks, get))
    return best


async def _memory() -> JobIndex:
    return MemoryJobIndex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}

    results["memory"] = anyio.run(bench, _memory, args.n, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:

        async def sqlite() -> JobIndex:
            return SQLiteJobIndex(Path(tmp) / f"{uuid.uuid4().hex}.db")

        results["sqlite"] = anyio.run(bench, sqlite, args.n, args.rounds)

    bindir = find_bindir()
    if bindir is None:
        print("no PostgreSQL server binaries: PostgreSQL skipped", file=sys.stderr)
    else:
        server = started(bindir)
        try:
            url = server.url()

            async def postgres() -> JobIndex:
                return await PostgresJobIndex.connect(url)

            results["postgres (asyncio)"] = anyio.run(bench, postgres, args.n, args.rounds)
            results["postgres (trio)"] = anyio.run(
                bench, postgres, args.n, args.rounds, backend="trio"
            )
            results["psycopg async pool, get only"] = anyio.run(
                async_psycopg_get, url, args.n, args.rounds
            )
        finally:
            server.cleanup()

    kinds = list(results)
    names = list(results["memory"])
    print(f"index operations per second (n={args.n}, best of {args.rounds})")
    print(f"{'':24}" + "".join(f"{kind:>30}" for kind in kinds))
    for name in names:
        cells = "".join(
            f"{results[kind][name]:>30,.0f}" if name in results[kind] else f"{'-':>30}"
            for kind in kinds
        )
        print(f"{name:24}{cells}")


if __name__ == "__main__":
    main()
