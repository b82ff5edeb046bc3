"""
``reelgate serve`` beside its floor: retrieve throughput as a share of what the stack can do.

Method (each figure is printed with what it measures):

1. Four server processes run at once, each one uvicorn worker on loopback:

   - ``memory``, ``sqlite`` and ``postgres``: ``reelgate.server.run`` with its defaults,
     which is what ``reelgate serve`` runs (log level ``info``, so with its access log),
     configured with the ``sim`` provider only and the memory, the SQLite (a fresh file)
     or the PostgreSQL job index. PostgreSQL is a throwaway server started exactly as the
     tests start theirs (``tests/postgres/local_postgres.py``: ``initdb`` + ``pg_ctl`` on
     127.0.0.1, ``fsync=off``), reached through ``REELGATE_INDEX_URL``; without its
     server binaries or ``reelgate[postgres]`` it is left out, saying so;
   - ``floor``: a bare Starlette app with one route answering every ``GET`` with the very
     bytes ``reelgate serve`` answered for the job (fetched once from the ``memory``
     server), run by ``reelgate.server.serve_app``, the function that starts uvicorn for
     ``reelgate serve``, so both have the same uvicorn settings (log level, access log,
     HTTP implementation).

   The servers' output goes to ``/dev/null`` (the access log is still formatted
   and written).
2. In each server, one ``sim`` job is created and completed; the load is
   ``GET /v1/videos/{id}`` on it (``GET /any`` on the floor), from this process over
   loopback with ``server_bench.py``'s load generator: `--connections` keep-alive
   connections (default 32, which saturates one worker) each sending the request one
   after another, every answer a 200 read to its end.
3. Rounds: every server first gets 2 s of warm-up load. Then in each of `--rounds`
   rounds (default 12) every server gets `--seconds` seconds (default 2) of load, one
   server after another, so that the machine's load (other processes share its CPUs)
   drifts over all of them alike. A server's ratio in a round is its requests/s over the
   floor's in that round; the figures printed are the medians over the rounds of the
   requests/s and of the ratio. Targets (issue 17): memory >= 80 %, sqlite >= 70 %,
   postgres >= 60 % of the floor. The PostgreSQL server's own CPU is not counted in the
   ``postgres`` server's CPU per request (it is another process), but it shares the
   machine's CPUs with everything else during every round.
4. CPU per request: over each round, the CPU time the server process spent (the sum of
   ``/proc/<pid>/task/*/schedstat``'s first field, every thread, in ns) divided by the
   answers. One worker saturated by 32 connections is CPU-bound, so the floor's CPU per
   request over the server's is the throughput ratio the server reaches on an idle
   machine; unlike requests/s, it holds when other processes share the CPUs (the
   ratio printed as "by CPU"). Linux only.

Run: ``python benchmarks/serve_floor_bench.py`` (or ``nox -s bench``); ``--seconds``,
``--rounds`` and ``--connections`` change the load.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from server_bench import Connection, create, free_port, load

CONFIG = """
[index]
{index}

[gateway]
default_instances = false

[providers.sim]
type = "sim"
"""

FLOOR = """
import sys
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from reelgate.server import serve_app

body = Path(sys.argv[1]).read_bytes()

async def answer(request):
    return Response(body, media_type="application/json")

app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET"])])
serve_app(app, host="127.0.0.1", port=int(sys.argv[2]))
"""


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a server did not start") from None
            time.sleep(0.05)


@contextmanager
def process(args: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, child)
        yield child.pid
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def _env(tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env["REELGATE_STATE_DIR"] = tmp
    return env


def cpu_ns(pid: int) -> int:
    """The CPU time all of a process's threads have used, in ns."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total


@contextmanager
def reelgate_serve(kind: str, tmp: str, url: str | None = None) -> Iterator[tuple[int, int]]:
    """
    ``reelgate serve`` with the memory, SQLite or (given its `url`) PostgreSQL index;
    yields its port and pid.
    """
    config = Path(tmp) / f"{kind}.toml"
    index = f'kind = "{kind}"'
    if kind == "sqlite":
        index += f'\npath = "{Path(tmp) / "index.sqlite3"}"'
    config.write_text(CONFIG.format(index=index))
    env = _env(tmp)
    if url is not None:
        env["REELGATE_INDEX_URL"] = url
    port = free_port()
    code = f"from reelgate.server import run; run(config_path={str(config)!r}, port={port})"
    with process([sys.executable, "-c", code], port, env) as pid:
        yield port, pid


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """The URL of a throwaway PostgreSQL server, or None (saying why) when none can run."""
    if importlib.util.find_spec("psycopg") is None:
        print("serve_floor_bench: reelgate[postgres] is not installed: postgres left out")
        yield None
        return
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "postgres"))
    from local_postgres import find_bindir, started  # noqa: PLC0415

    bindir = find_bindir()
    if bindir is None:
        print("serve_floor_bench: no PostgreSQL server binaries: postgres left out")
        yield None
        return
    server = started(bindir)
    try:
        yield server.url()
    finally:
        server.cleanup()


@contextmanager
def floor(body: bytes, tmp: str) -> Iterator[tuple[int, int]]:
    """The bare route serving `body`; yields its port and pid."""
    path = Path(tmp) / "body.json"
    path.write_bytes(body)
    port = free_port()
    with process([sys.executable, "-c", FLOOR, str(path), str(port)], port, _env(tmp)) as pid:
        yield port, pid


async def fetch(port: int, path: str) -> bytes:
    conn = await Connection.open(port)
    try:
        status, body = await conn.request("GET", path)
        assert status == 200, body
        assert isinstance(body, bytes)
        return body
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--connections", type=int, default=32)
    args, _ = parser.parse_known_args()
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(
        f"serve_floor_bench: uvicorn with {http}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds:g} s"
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        servers: dict[str, tuple[int, int, str]] = {}
        url = stack.enter_context(postgres_url())
        kinds: dict[str, str | None] = {"memory": None, "sqlite": None}
        if url is not None:
            kinds["postgres"] = url
        for kind, index_url in kinds.items():
            port, pid = stack.enter_context(reelgate_serve(kind, tmp, index_url))
            video_id = asyncio.run(create(port))
            servers[kind] = (port, pid, f"/v1/videos/{video_id}")
            time.sleep(0.2)  # the sim job completes at once; let it be seen completed
            asyncio.run(fetch(port, servers[kind][2]))
        body = asyncio.run(fetch(servers["memory"][0], servers["memory"][2]))
        port, pid = stack.enter_context(floor(body, tmp))
        servers = {"floor": (port, pid, "/any"), **servers}
        for port, _, path in servers.values():
            asyncio.run(load(port, path, args.connections, 2.0))
        rates: dict[str, list[float]] = {kind: [] for kind in servers}
        cpu: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(args.rounds):
            for kind, (port, pid, path) in servers.items():
                before = cpu_ns(pid)
                answers = len(asyncio.run(load(port, path, args.connections, args.seconds)))
                cpu[kind].append((cpu_ns(pid) - before) / answers / 1000)
                rates[kind].append(answers / args.seconds)
    for kind in servers:
        ratios = [r / f for r, f in zip(rates[kind], rates["floor"], strict=True)]
        by_cpu = [f / c for c, f in zip(cpu[kind], cpu["floor"], strict=True)]
        print(
            f"GET /v1/videos/{{id}}, {kind:>8}: {statistics.median(rates[kind]):7,.0f} "
            f"requests/s = {statistics.median(ratios):4.0%} of the floor "
            f"(rounds {min(ratios):.0%}..{max(ratios):.0%}); "
            f"{statistics.median(cpu[kind]):5.0f} µs CPU/request = "
            f"{statistics.median(by_cpu):4.0%} of the floor by CPU "
            f"(rounds {min(by_cpu):.0%}..{max(by_cpu):.0%})"
        )


if __name__ == "__main__":
    main()
