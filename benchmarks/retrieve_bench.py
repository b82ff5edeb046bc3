"""
The job index on the hot path: ``Gateway.retrieve`` through ``sim``, in-process, per index.

Method (each figure is printed with what it measures):

1. ``Gateway.retrieve`` through ``sim``, in-process, per index: a gateway with the ``sim``
   provider and the memory index, and one with the SQLite index (a fresh file in a
   temporary directory), each with one completed job. In each of `--rounds` rounds
   (default 15) each gateway runs `--calls` (default 2,000) retrieves of its job, one
   gateway after the other. A call's cost is the CPU time of this process
   (``time.process_time``, worker threads included) over the calls, so that other
   processes on the machine do not count; the wall time is printed beside it. The figures are the medians over the
   rounds, and the ratio SQLite / memory is the median of the per-round ratios.
   Target (issue 17): SQLite <= 2x memory.

The index's own operations, PostgreSQL included, are ``index_bench.py``'s.

Run: ``python benchmarks/retrieve_bench.py`` (or ``nox -s bench``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

import reelgate
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.store import JobIndex, MemoryJobIndex, SQLiteJobIndex


def _config() -> Config:
    return Config(
        instances=(InstanceConfig(name="sim", type="sim", settings={"duration": 0.0}),),
        default_instances=False,
    )


async def _timed(calls: int, call: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """CPU and wall seconds per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(calls):
        await call(i)
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


async def retrieve_per_index(tmp: Path, calls: int, rounds: int) -> None:
    indexes: dict[str, JobIndex] = {
        "memory": MemoryJobIndex(),
        "sqlite": SQLiteJobIndex(tmp / "retrieve.sqlite3"),
    }
    gateways: dict[str, tuple[Gateway, str]] = {}
    for kind, index in indexes.items():
        gateway = Gateway(_config(), index=index)
        await gateway.__aenter__()
        video = await gateway.create(reelgate.CreateVideo(model="sim/sim-1", prompt="bench"))
        video = await gateway.wait(video.id, poll_interval=0.01)
        gateways[kind] = (gateway, video.id)
    cpu: dict[str, list[float]] = {kind: [] for kind in gateways}
    wall: dict[str, list[float]] = {kind: [] for kind in gateways}
    try:
        for gateway, video_id in gateways.values():  # warm-up
            await _timed(calls, lambda _, g=gateway, v=video_id: g.retrieve(v))
        for _ in range(rounds):
            for kind, (gateway, video_id) in gateways.items():
                c, w = await _timed(calls, lambda _, g=gateway, v=video_id: g.retrieve(v))
                cpu[kind].append(c)
                wall[kind].append(w)
    finally:
        for gateway, _ in gateways.values():
            await gateway.aclose()
    for kind in gateways:
        ratio = statistics.median(c / m for c, m in zip(cpu[kind], cpu["memory"], strict=True))
        print(
            f"Gateway.retrieve through sim, {kind:>6} index: "
            f"{statistics.median(cpu[kind]) * 1e6:6.1f} µs CPU per call "
            f"({statistics.median(wall[kind]) * 1e6:6.1f} µs wall), {ratio:.2f}x memory"
        )


async def main(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await retrieve_per_index(Path(tmp), calls, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args, _ = parser.parse_known_args()
    print(f"retrieve_bench: reelgate {reelgate.__version__}, Python {sys.version.split()[0]}")
    anyio.run(main, args.calls, args.rounds)
