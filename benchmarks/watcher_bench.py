"""
The watcher's cost with 10,000 unfinished jobs: index calls per second, polls, CPU.

Method:

1. An index (SQLite in a temporary directory; PostgreSQL on a throwaway server started
   as the tests start theirs, ``tests/postgres/local_postgres.py``, one schema) is filled
   with ``--jobs`` (default 10,000) jobs created through a gateway on the simulator, each
   an hour long, so none finishes during the run.
2. The gateway's index is wrapped in a counter of calls (every call is one statement or
   one short transaction: ``lease_unfinished``, ``return_lease``, and the ``get`` and
   ``observe`` of each poll's `Gateway.retrieve`).
3. The watcher runs for ``--seconds`` (default 20) with its defaults (16 polls at once,
   4 per instance, ``--per-instance``: the simulator is one instance) and the
   instance's ``poll_interval`` set to ``--interval`` (default 5 s; backoff to five
   times that). 10,000 jobs due every 5 to 25 s ask for more polls than 4 at a time can
   make, so the watcher runs flat out: the figures are its cost at saturation.
   Figures: provider polls per second, index calls per second, and the process's CPU
   time over the wall time (``time.process_time``: every thread of this process, the
   index's worker threads included; PostgreSQL's own CPU is not counted).
4. The first seconds are a burst (every job is due at once); the figures after the
   first ``--seconds / 2`` are the steady state, reported apart.

Run: ``python benchmarks/watcher_bench.py [--jobs 10000] [--seconds 20] [--interval 5]``.
Needs ``reelgate[postgres]`` and PostgreSQL's server binaries for the PostgreSQL row.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from reelgate import CreateVideo, Gateway
from reelgate.config import Config, InstanceConfig
from reelgate.store import JobIndex, SQLiteJobIndex

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "postgres"))
from local_postgres import find_bindir, started


class Counting:
    """A job index that counts the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted


def kind_of(index: object) -> str:
    """The index's class name, for the log."""
    return type(index).__name__


def _gateway(index: Any, interval: float) -> Gateway:
    config = Config(
        instances=(
            InstanceConfig(
                name="sim",
                type="sim",
                settings={"duration": 3600, "poll_interval": interval},
            ),
        ),
        default_instances=False,
    )
    return Gateway(config, index=index)


async def measure(
    make: Callable[[], Awaitable[JobIndex]],
    jobs: int,
    seconds: float,
    interval: float,
    per_instance: int,
) -> dict[str, float]:
    """Fill an index with `jobs` unfinished jobs; watch them for `seconds`."""
    index = await make()
    filler = _gateway(index, interval)
    request = CreateVideo(model="sim/sim-1", prompt="a long job")
    async with anyio.create_task_group() as tg:
        for part in range(8):

            async def fill(first: int = part) -> None:
                for _ in range(first, jobs, 8):
                    await filler.create(request)

            tg.start_soon(fill)
    counting = Counting(index)
    gateway = _gateway(counting, interval)
    figures: dict[str, float] = {}
    async with gateway.watch(per_instance=per_instance) as watcher:
        half = seconds / 2
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        await anyio.sleep(half)
        mid_wall, mid_cpu = time.perf_counter(), time.process_time()
        mid_calls, mid_polls = sum(counting.calls.values()), watcher.polls
        await anyio.sleep(seconds - half)
        end_wall, end_cpu = time.perf_counter(), time.process_time()
        end_calls, end_polls = sum(counting.calls.values()), watcher.polls
    figures["burst polls/s"] = mid_polls / (mid_wall - start_wall)
    figures["burst index calls/s"] = mid_calls / (mid_wall - start_wall)
    figures["burst CPU %"] = 100 * (mid_cpu - start_cpu) / (mid_wall - start_wall)
    figures["steady polls/s"] = (end_polls - mid_polls) / (end_wall - mid_wall)
    figures["steady index calls/s"] = (end_calls - mid_calls) / (end_wall - mid_wall)
    figures["steady CPU %"] = 100 * (end_cpu - mid_cpu) / (end_wall - mid_wall)
    print(f"    {kind_of(index)} calls by kind: {dict(counting.calls)}", file=sys.stderr)
    await gateway.aclose()
    await filler.aclose()
    return figures


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--per-instance", type=int, default=4)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:

        async def sqlite() -> JobIndex:
            return SQLiteJobIndex(Path(tmp) / "jobs.sqlite3")

        rows["sqlite"] = anyio.run(
            measure, sqlite, args.jobs, args.seconds, args.interval, args.per_instance
        )
    bindir = find_bindir()
    if bindir is not None and not args.skip_postgres:
        import psycopg  # noqa: PLC0415

        from reelgate.postgres import PostgresJobIndex  # noqa: PLC0415

        server = started(bindir)
        try:
            schema = f"b_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(server.url(), autocommit=True) as db:
                db.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{server.url()}?options=-csearch_path%3D{schema}"

            async def postgres() -> JobIndex:
                return await PostgresJobIndex.connect(url)

            rows["postgres"] = anyio.run(
                measure, postgres, args.jobs, args.seconds, args.interval, args.per_instance
            )
        finally:
            server.cleanup()
    names = list(next(iter(rows.values())))
    print(f"{'index':10}" + "".join(f"{n:>22}" for n in names))
    for kind, figures in rows.items():
        print(f"{kind:10}" + "".join(f"{figures[n]:>22.1f}" for n in names))


if __name__ == "__main__":
    main()
