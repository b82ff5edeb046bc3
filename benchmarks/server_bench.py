"""
The HTTP server's costs: requests/s and latency of a retrieve; memory under big downloads.

Method (each figure is printed with what it measures):

0. The server is ``reelgate.server.run`` (what ``reelgate serve`` runs) in its own
   process: one uvicorn worker, log level ``warning`` (no access log), configured with
   the ``sim`` provider only, a memory job index and no keys. The load comes from this
   process, a second one, over loopback. Both print the HTTP implementation uvicorn uses
   (h11 unless httptools is installed).
1. Requests/s and latency of ``GET /v1/videos/{id}`` through ``sim``: one completed job
   is created; then `--connections` keep-alive connections (default: 32, which saturates
   the worker, then 1, which shows the latency of an idle server) each send that request
   one after another (no pipelining) for `--seconds` seconds, after a warm-up of 2 seconds.
   The load generator is a minimal HTTP/1.1 client on asyncio streams, so that it costs
   the shared CPUs as little as possible; every answer must be a 200 with the whole body
   read. requests/s = answers / seconds; p50 and p99 are over every answer's latency
   (request written -> whole body read). When ``wrk`` is on the PATH, the same request is
   also measured with ``wrk -t1 -c<connections> -d<seconds>s --latency`` as a second
   opinion (wrk is not needed otherwise).
2. Peak memory growth of the server while 20 clients each download a 1 GiB ``sim``
   video at once: a fresh server process; 20 jobs of ``sim_bytes`` = 1 GiB are created
   (completed at once) and one small video is downloaded to warm up; the server's resident
   set size (``VmRSS`` in ``/proc/<pid>/status``) then is the baseline. The 20 downloads
   run concurrently (each client reads and discards), while ``VmRSS`` is sampled every
   20 ms; the figure is the highest sample minus the baseline. The growth of ``VmHWM``
   (the kernel's own peak) over the same span is printed as a cross-check. Each client
   must receive exactly 1 GiB. Target: under 100 MiB in total.

Run: ``python benchmarks/server_bench.py`` (or ``nox -s bench``); ``--seconds``,
``--connections`` and ``--clients`` change the load. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GIB = 1 << 30
MIB = 1 << 20

CONFIG = """
[index]
kind = "memory"

[gateway]
default_instances = false

[providers.sim]
type = "sim"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server() -> Iterator[tuple[int, int]]:
    """A ``reelgate.server.run`` process; yields its pid and port."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "reelgate.toml"
        config.write_text(CONFIG)
        port = free_port()
        code = (
            "from reelgate.server import run; "
            f"run(config_path={str(config)!r}, port={port}, log_level='warning')"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
        env["REELGATE_STATE_DIR"] = tmp
        process = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.05)
            yield process.pid, port
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


# -- a minimal HTTP/1.1 client ---------------------------------------------------------


class Connection:
    """One keep-alive connection: request, then read the whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=4 * MIB)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", sink: bool = False
    ) -> tuple[int, bytes | int]:
        """Send a request; return the status and the body (or its length when `sink`)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readuntil(b"\r\n")
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(status_line.split()[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        if not sink:
            return status, await self.reader.readexactly(length)
        left = length
        while left:
            chunk = await self.reader.read(min(left, 4 * MIB))
            if not chunk:
                raise ConnectionError(f"cut off with {left} bytes to go")
            left -= len(chunk)
        return status, length

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def create(port: int, **extra: object) -> str:
    conn = await Connection.open(port)
    try:
        body = json.dumps({"model": "sim/sim-1", "prompt": "bench", "sim_duration": 0, **extra})
        status, answer = await conn.request("POST", "/v1/videos", body.encode())
        assert status == 200, answer
        assert isinstance(answer, bytes)
        return str(json.loads(answer)["id"])
    finally:
        await conn.close()


# -- 1. requests/s and latency -----------------------------------------------------------


async def load(port: int, path: str, connections: int, seconds: float) -> list[float]:
    """Latencies of every answer during `seconds`, from `connections` connections."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []

    async def worker() -> None:
        conn = await Connection.open(port)
        try:
            while (start := time.perf_counter()) < stop:
                status, _ = await conn.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}")
                latencies.append(time.perf_counter() - start)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


def wrk(port: int, path: str, connections: int, seconds: float) -> str | None:
    exe = shutil.which("wrk")
    if exe is None:
        return None
    done = subprocess.run(
        [
            exe,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    keep = ("Requests/sec", "50%", "99%", "Non-2xx", "Socket errors")
    return "; ".join(
        " ".join(line.split()) for line in done.stdout.splitlines() if line.strip().startswith(keep)
    )


def throughput(seconds: float, connections: list[int]) -> None:
    with server() as (_pid, port):
        video_id = asyncio.run(create(port))
        path = f"/v1/videos/{video_id}"
        for n in connections:
            asyncio.run(load(port, path, n, 2.0))  # warm-up
            latencies = asyncio.run(load(port, path, n, seconds))
            quantiles = statistics.quantiles(latencies, n=100)
            print(
                f"GET /v1/videos/{{id}} through sim, 1 worker, {n} connection(s), "
                f"{seconds:g} s: {len(latencies) / seconds:,.0f} requests/s, "
                f"p50 {quantiles[49] * 1000:.2f} ms, p99 {quantiles[98] * 1000:.2f} ms "
                f"({len(latencies):,} requests, all 200)"
            )
            if (second := wrk(port, path, n, seconds)) is not None:
                print(f"  wrk, same request: {second}")


# -- 2. memory under 20 downloads of 1 GiB -----------------------------------------------


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


async def downloads(port: int, pid: int, clients: int) -> None:
    ids = [await create(port, sim_bytes=GIB) for _ in range(clients)]
    warm = await Connection.open(port)
    status, _ = await warm.request("GET", f"/v1/videos/{await create(port)}/content", sink=True)
    assert status == 200
    await warm.close()
    baseline_rss = status_kib(pid, "VmRSS")
    baseline_hwm = status_kib(pid, "VmHWM")
    peak = baseline_rss
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, status_kib(pid, "VmRSS"))
            await asyncio.sleep(0.02)

    async def client(video_id: str) -> int:
        conn = await Connection.open(port)
        try:
            status, size = await conn.request("GET", f"/v1/videos/{video_id}/content", sink=True)
            assert status == 200
            assert isinstance(size, int)
            return size
        finally:
            await conn.close()

    sampler = asyncio.create_task(sample())
    start = time.perf_counter()
    sizes = await asyncio.gather(*(client(i) for i in ids))
    elapsed = time.perf_counter() - start
    done.set()
    await sampler
    assert sizes == [GIB] * clients, sizes
    hwm = status_kib(pid, "VmHWM")
    print(
        f"{clients} clients x 1 GiB sim video at once: server RSS {baseline_rss / 1024:.1f} MiB "
        f"before, peak {peak / 1024:.1f} MiB, growth {(peak - baseline_rss) / 1024:.1f} MiB "
        f"(VmHWM growth {(hwm - baseline_hwm) / 1024:.1f} MiB); "
        f"{clients} GiB in {elapsed:.1f} s ({clients * GIB / elapsed / MIB:,.0f} MiB/s)"
    )


def memory(clients: int) -> None:
    with server() as (pid, port):
        asyncio.run(downloads(port, pid, clients))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[32, 1],
        help="comma-separated connection counts (default: 32,1)",
    )
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(
        f"server_bench: uvicorn with {http}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    throughput(args.seconds, args.connections)
    memory(args.clients)


if __name__ == "__main__":
    main()
