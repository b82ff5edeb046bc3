"""
The core's own costs: import time, per-retrieve overhead, memory while downloading.

Method (each figure is printed with what it measures):

1. ``import reelgate``: wall time of a fresh interpreter running ``import reelgate``,
   minus that of a fresh interpreter running nothing, median of 15 runs each, run
   alternately so both see the same machine load. Target: under 150 ms.
2. Overhead per ``retrieve`` through ``sim`` in-process: the median over 20 rounds of the
   mean time of 2,000 ``Gateway.retrieve`` calls (memory job index), minus the same for
   2,000 direct calls of the simulator's own ``retrieve`` on the native id. What remains
   is what the gateway adds: id parsing, the index look-up, the status machine,
   qualifying the id. Target: under 50 µs.
3. Peak memory growth while ``download_to`` writes a 1 GiB ``sim`` video: in a fresh
   process, the peak resident set size (``ru_maxrss``) after everything is set up and
   the job has completed, and again after the download; the difference is the growth.
   Target: under 32 MiB.

Run: ``python benchmarks/core_bench.py`` (or ``nox -s bench``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import anyio

import reelgate
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.ids import VideoId
from reelgate.provider import Call
from reelgate.store import MemoryJobIndex


def import_time(runs: int = 15) -> tuple[float, float]:
    def timed(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare, full = [], []
    for _ in range(runs):
        bare.append(timed("pass"))
        full.append(timed("import reelgate"))
    return statistics.median(full) - statistics.median(bare), statistics.median(full)


def _gateway(index: MemoryJobIndex | None = None) -> Gateway:
    config = Config(
        instances=(InstanceConfig(name="sim", type="sim", settings={"duration": 0.05}),),
        default_instances=False,
    )
    return Gateway(config, index=index or MemoryJobIndex())


async def retrieve_overhead(calls: int = 2000, rounds: int = 20) -> tuple[float, float, float]:
    async with _gateway() as gw:
        video = await gw.create(reelgate.CreateVideo(model="sim/sim-1", prompt="bench"))
        video = await gw.wait(video.id, poll_interval=0.05)
        native = VideoId.parse(video.id).native
        provider = gw.instance("sim").provider
        call = Call(instance="sim", operation="retrieve")
        through, direct = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                await gw.retrieve(video.id)
            through.append((time.perf_counter() - start) / calls)
            start = time.perf_counter()
            for _ in range(calls):
                await provider.retrieve(native, call=call)  # type: ignore[attr-defined]
            direct.append((time.perf_counter() - start) / calls)
        t, d = statistics.median(through), statistics.median(direct)
        return t - d, t, d


_DOWNLOAD = r"""
import resource, sys, tempfile, anyio
from pathlib import Path
import reelgate
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.store import MemoryJobIndex

async def main():
    config = Config(instances=(InstanceConfig(name="sim", type="sim", settings={"duration": 0.05}),),
                    default_instances=False)
    async with Gateway(config, index=MemoryJobIndex()) as gw:
        v = await gw.create(reelgate.CreateVideo(model="sim/sim-1", prompt="big",
                                                 extra_params={"sim_bytes": 1 << 30}))
        v = await gw.wait(v.id, poll_interval=0.05)
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            path = await gw.download_to(v.id, Path(tmp) / "big.mp4")
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            size = path.stat().st_size
    print(before, after, size)

anyio.run(main)
"""


def download_memory() -> tuple[float, float, int, float]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _DOWNLOAD], check=True, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    before, after, size = (int(x) for x in result.stdout.split())
    return (after - before) / 1024, after / 1024, size, elapsed


def main() -> None:
    print(f"reelgate {reelgate.__version__}, Python {sys.version.split()[0]}")
    extra, total = import_time()
    print(
        f"import reelgate: {extra * 1000:.1f} ms over a bare interpreter ({total * 1000:.1f} ms in all); target < 150 ms"
    )
    overhead, through, direct = anyio.run(retrieve_overhead)
    print(
        f"retrieve through sim: {through * 1e6:.1f} µs per call, of which the simulator {direct * 1e6:.1f} µs; "
        f"core overhead {overhead * 1e6:.1f} µs; target < 50 µs"
    )
    growth, peak, size, elapsed = download_memory()
    print(
        f"download_to of a {size / 2**30:.2f} GiB sim video: peak RSS growth {growth:.1f} MiB "
        f"(peak {peak:.1f} MiB), {elapsed:.1f} s in all; target < 32 MiB"
    )


if __name__ == "__main__":
    main()
