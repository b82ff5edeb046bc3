"""
Retrieve throughput of one, two and three ``reelgate serve`` replicas sharing PostgreSQL.

Method:

1. A throwaway PostgreSQL server is started exactly as the tests start theirs
   (``tests/postgres/local_postgres.py``: ``initdb`` + ``pg_ctl`` on 127.0.0.1, ``fsync=off``,
   ``synchronous_commit=off``). Needs ``reelgate[postgres]`` and PostgreSQL's server binaries.
2. Three replicas are started at once, each ``python -m reelgate.cli --config reelgate.toml
   serve --port N --no-watch`` (one uvicorn worker, its default log level ``info``, so with
   its access log, output to ``/dev/null``), keyless on 127.0.0.1, configured with the
   ``sim`` provider only and ``REELGATE_INDEX_URL`` naming the one database: they share
   the job index and nothing else.
3. `--jobs` (default 4) ``sim`` jobs are created, round-robin over the replicas, and each
   is read once on every replica, so each replica has seen each job completed.
4. The load comes from this process (one Python process, asyncio, over loopback), with
   ``server_bench.py``'s HTTP/1.1 client: `--connections` keep-alive connections in all
   (default 32), connection i to replica i mod k, each sending ``GET /v1/videos/{id}``
   (job i mod jobs) one after another, every answer a 200 read to its end. k = 1 drives
   the first replica only, k = 2 the first two, k = 3 all three; the replicas not driven
   stay up, idle (no watcher, no requests).
5. Rounds: 1 s of warm-up at each k; then `--rounds` rounds (default 3), each giving
   `--seconds` (default 3) of load at k = 1, 2 and 3 in turn, so that the machine's
   other load drifts over the three alike. Printed per k: requests/s (median over the
   rounds, and the range), p50 and p99 over every answer of every round, the CPU the
   replicas used per request (``/proc/<pid>/task/*/schedstat``, every thread), the CPU
   the load generator used per request, and PostgreSQL's CPU per request (every process
   of the server, Linux only). The load average (``/proc/loadavg``) is printed before and
   after: the machine may be shared.

What the figures can and cannot say: every process here (the replicas, PostgreSQL and
the load generator) shares the machine's CPUs. On a 2-core machine, one replica plus the
load generator already keeps both cores busy, so a second and a third replica add
CPU contention rather than CPU: 3 replicas cannot scale linearly there, and the figure
shows the cost of sharing the index more than the gain of adding replicas. The load
generator's own CPU per request is printed so that one can see when it, not the
replicas, is the limit. On a machine with more cores than processes, the same run shows
the scaling.

The run is bounded: about ``3 * (1 + rounds * seconds)`` seconds of load plus start-up
(~40 s by default). Every process it starts (replicas and PostgreSQL) is stopped on the
way out, also on Ctrl-C or SIGTERM.

Run: ``python benchmarks/replicas_bench.py`` (or ``nox -s bench``); ``--seconds``,
``--rounds``, ``--connections`` and ``--jobs`` change the load.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from serve_floor_bench import cpu_ns, fetch, process
from server_bench import Connection, create, free_port

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "postgres"))
from local_postgres import LocalPostgres, find_bindir, started

REPLICAS = (1, 2, 3)

CONFIG = """
[index]
kind = "postgres"

[gateway]
default_instances = false

[providers.sim]
type = "sim"
"""


def missing() -> str | None:
    """Why PostgreSQL cannot run here, or None."""
    if importlib.util.find_spec("psycopg") is None:
        return "reelgate[postgres] is not installed"
    if find_bindir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl, postgres): install postgresql"
    return None


@contextmanager
def postgres() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL server, removed on the way out."""
    bindir = find_bindir()
    assert bindir is not None
    server = started(bindir)
    try:
        yield server
    finally:
        server.cleanup()


@contextmanager
def replica(config: Path, url: str, tmp: str) -> Iterator[tuple[int, int]]:
    """One ``reelgate serve`` on the shared index; yields its port and pid."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env["REELGATE_STATE_DIR"] = tmp
    env["REELGATE_INDEX_URL"] = url
    port = free_port()
    args = [sys.executable, "-m", "reelgate.cli", "--config", str(config)]
    args += ["serve", "--port", str(port), "--no-watch"]
    with process(args, port, env) as pid:
        yield port, pid


def postgres_cpu_ns(server: LocalPostgres) -> int:
    """The CPU time of every process of the PostgreSQL server, in ns (0 if unreadable)."""
    try:
        first = (server.data / "postmaster.pid").read_text().split()[0]
    except OSError:
        return 0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = stat.parent.name
            if pid == first or fields[1] == first:  # the postmaster and its children
                total += cpu_ns(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    return total


async def spread_load(
    ports: list[int], paths: list[str], connections: int, seconds: float
) -> list[float]:
    """Latencies of every answer during `seconds`; connection i goes to ports[i % k]."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []

    async def worker(i: int) -> None:
        conn = await Connection.open(ports[i % len(ports)])
        path = paths[i % len(paths)]
        try:
            while (start := time.perf_counter()) < stop:
                status, _ = await conn.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}")
                latencies.append(time.perf_counter() - start)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return latencies


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=4)
    args, _ = parser.parse_known_args()
    if (why := missing()) is not None:
        print(f"replicas_bench: skipped: {why}")
        return
    # Ctrl-C and SIGTERM unwind the stack below, which stops every process started;
    # SIGINT is set explicitly since a shell starts a background job with it ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(
        f"replicas_bench: uvicorn with {http}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, {args.connections} connections, "
        f"{args.jobs} jobs, {args.rounds} rounds of {args.seconds:g} s per replica count; "
        f"load average before: {loadavg()}"
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        server = stack.enter_context(postgres())
        config = Path(tmp) / "reelgate.toml"
        config.write_text(CONFIG)
        # One replica first, so the schema is migrated once, then the others.
        replicas = [stack.enter_context(replica(config, server.url(), tmp))]
        replicas += [stack.enter_context(replica(config, server.url(), tmp)) for _ in REPLICAS[1:]]
        ports = [port for port, _ in replicas]
        paths = [
            f"/v1/videos/{asyncio.run(create(ports[i % len(ports)]))}" for i in range(args.jobs)
        ]
        time.sleep(0.2)  # the sim jobs complete at once; let them be seen completed
        for port in ports:
            for path in paths:
                asyncio.run(fetch(port, path))
        for k in REPLICAS:
            asyncio.run(spread_load(ports[:k], paths, args.connections, 1.0))
        rates: dict[int, list[float]] = {k: [] for k in REPLICAS}
        latencies: dict[int, list[float]] = {k: [] for k in REPLICAS}
        cpu: dict[int, list[float]] = {k: [0.0, 0.0, 0.0] for k in REPLICAS}
        for _ in range(args.rounds):
            for k in REPLICAS:
                before = (
                    sum(cpu_ns(pid) for _, pid in replicas),
                    time.process_time_ns(),
                    postgres_cpu_ns(server),
                )
                answers = asyncio.run(spread_load(ports[:k], paths, args.connections, args.seconds))
                after = (
                    sum(cpu_ns(pid) for _, pid in replicas),
                    time.process_time_ns(),
                    postgres_cpu_ns(server),
                )
                rates[k].append(len(answers) / args.seconds)
                latencies[k] += answers
                for i in range(3):
                    cpu[k][i] += (after[i] - before[i]) / 1000
    for k in REPLICAS:
        quantiles = statistics.quantiles(latencies[k], n=100)
        n = len(latencies[k])
        servers, generator, database = (c / n for c in cpu[k])
        print(
            f"GET /v1/videos/{{id}}, {k} replica(s): {statistics.median(rates[k]):7,.0f} "
            f"requests/s (rounds {min(rates[k]):,.0f}..{max(rates[k]):,.0f}), "
            f"p50 {quantiles[49] * 1000:.2f} ms, p99 {quantiles[98] * 1000:.2f} ms; "
            f"CPU/request: replicas {servers:.0f} µs, load generator {generator:.0f} µs, "
            f"PostgreSQL {database:.0f} µs ({n:,} requests, all 200)"
        )
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        raise SystemExit(
            f"replicas_bench: stopped ({e or 'interrupted'}); every process it started was stopped"
        ) from None
