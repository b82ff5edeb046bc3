"""
reelgate against the official openai SDK and plain httpx2, on one OpenAI emulator.

Method
------

* One emulator (``python -m reelgate_openai.emulator``) runs in its own process under
  uvicorn on 127.0.0.1, with jobs that complete at once and a video variant padded to
  10 MiB (``--video-bytes 10485760``). All three clients talk to this same process over
  loopback HTTP/1.1, so the server's cost is the same for each.
* The clients run in this process, one after the other, on asyncio:

  - **reelgate**: a `reelgate.Gateway` with one ``openai`` instance (in-memory job
    index), calling ``create``, ``retrieve`` and ``download`` (the stream is iterated,
    the bytes dropped). This is the whole library path: id qualification, job index,
    retries, error mapping.
  - **openai SDK**: ``openai.AsyncOpenAI`` (``videos.create``, ``videos.retrieve``, and
    ``videos.with_streaming_response.download_content`` iterated with ``iter_bytes``,
    so that it streams like the others rather than buffering 10 MiB).
  - **httpx2**: a bare ``httpx2.AsyncClient``: ``POST /videos`` as multipart with the
    same four fields, ``GET /videos/{id}``, and a streamed ``GET /videos/{id}/content``.

* Each client gets a warm-up (connections opened, imports done) that is not measured.
  The measured calls are then made in 30 rounds: in each round every client, in a
  shuffled order, does a small batch of each operation (10 creates, 25 retrieves, 2
  downloads), so that any drift or load of the machine touches all clients alike.
  Every call is timed alone with ``time.perf_counter``; the figure reported is the
  median per call. Create sends the same body each time (prompt, model ``sora-2``,
  seconds ``4``, size ``720x1280``, no image); retrieve and download read one completed
  job made beforehand.
* The target: reelgate within 1.15x of plain httpx2 and faster than the openai SDK.
  A 10 MiB download is bound by the socket and by copying bytes, so the three clients
  can at best tie there; the per-call overhead shows in create and retrieve.
* Client and server share the machine's cores, and other work on the machine adds
  noise: compare figures from one run, and run it more than once before believing a
  difference of a few percent.

Run it with ``python benchmarks/openai_compare.py`` (``--rounds``, ``--creates``,
``--retrieves``, ``--downloads`` change the sample sizes). It is a measurement, never a
test: nothing fails when a figure is off.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import openai

import reelgate_openai
from reelgate import CreateVideo, Gateway
from reelgate.config import Config, InstanceConfig
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex

VIDEO_BYTES = 10 * 1024 * 1024
KEY = "sk-bench-0000000000000000"
FIELDS = {"prompt": "a paper boat", "model": "sora-2", "seconds": "4", "size": "720x1280"}
OPS = ("create", "retrieve", "download 10 MiB")

warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "reelgate_openai.emulator", "--port", str(port),
        "--job-seconds", "0", "--video-bytes", str(VIDEO_BYTES),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(f"{url}/videos", headers={"Authorization": f"Bearer {KEY}"})
        except httpx2.ConnectError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("the emulator did not start")
            time.sleep(0.05)
        else:
            return process, url


class ReelgateClient:
    name = "reelgate"

    def __init__(self, url: str) -> None:
        os.environ["REELGATE_BENCH_KEY"] = KEY
        plugins = Plugins()
        plugins.register(reelgate_openai, name="openai")
        instance = InstanceConfig(
            name="openai",
            type="openai",
            key_env=("REELGATE_BENCH_KEY",),
            settings={"base_url": url},
        )
        config = Config(instances=(instance,), default_instances=False)
        self.gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex())
        self.request = CreateVideo(
            model="openai/sora-2",
            prompt=FIELDS["prompt"],
            seconds=FIELDS["seconds"],
            size=FIELDS["size"],
        )
        self.video_id = ""

    async def setup(self) -> None:
        self.video_id = (await self.gateway.create(self.request)).id

    async def create(self) -> None:
        await self.gateway.create(self.request)

    async def retrieve(self) -> None:
        await self.gateway.retrieve(self.video_id)

    async def download(self) -> int:
        size = 0
        async with self.gateway.download(self.video_id) as stream:
            async for chunk in stream:
                size += len(chunk)
        return size

    async def aclose(self) -> None:
        await self.gateway.aclose()


class SDKClient:
    name = "openai SDK"

    def __init__(self, url: str) -> None:
        self.client = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)
        self.video_id = ""

    async def setup(self) -> None:
        self.video_id = (await self.client.videos.create(**FIELDS)).id  # type: ignore[arg-type]

    async def create(self) -> None:
        await self.client.videos.create(**FIELDS)  # type: ignore[arg-type]

    async def retrieve(self) -> None:
        await self.client.videos.retrieve(self.video_id)

    async def download(self) -> int:
        size = 0
        async with self.client.videos.with_streaming_response.download_content(
            self.video_id
        ) as response:
            async for chunk in response.iter_bytes():
                size += len(chunk)
        return size

    async def aclose(self) -> None:
        await self.client.close()


class HttpxClient:
    name = "httpx2"

    def __init__(self, url: str) -> None:
        self.client = httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"})
        self.files = {name: (None, value) for name, value in FIELDS.items()}
        self.video_id = ""

    async def _create(self) -> Any:
        response = await self.client.post("/videos", files=self.files)
        response.raise_for_status()
        return response.json()

    async def setup(self) -> None:
        self.video_id = (await self._create())["id"]

    async def create(self) -> None:
        await self._create()

    async def retrieve(self) -> None:
        response = await self.client.get(f"/videos/{self.video_id}")
        response.raise_for_status()
        response.json()

    async def download(self) -> int:
        size = 0
        async with self.client.stream("GET", f"/videos/{self.video_id}/content") as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                size += len(chunk)
        return size

    async def aclose(self) -> None:
        await self.client.aclose()


Client = ReelgateClient | SDKClient | HttpxClient


async def timed(call: Callable[[], Awaitable[Any]], times: int, into: list[float]) -> None:
    for _ in range(times):
        started = time.perf_counter()
        result = await call()
        into.append(time.perf_counter() - started)
        if isinstance(result, int) and result != VIDEO_BYTES:
            sys.exit(f"a download was {result} bytes, not {VIDEO_BYTES}")


async def run(args: argparse.Namespace, url: str) -> dict[str, dict[str, list[float]]]:
    clients: list[Client] = [ReelgateClient(url), SDKClient(url), HttpxClient(url)]
    samples = {c.name: {op: [] for op in OPS} for c in clients}
    for client in clients:
        await client.setup()
        for _ in range(3):
            await client.create()
            await client.retrieve()
            await client.download()
    for _ in range(args.rounds):
        random.shuffle(clients)
        for client in clients:
            times = samples[client.name]
            await timed(client.create, args.creates, times["create"])
            await timed(client.retrieve, args.retrieves, times["retrieve"])
            await timed(client.download, args.downloads, times["download 10 MiB"])
    for client in clients:
        await client.aclose()
    return samples


def report(samples: dict[str, dict[str, list[float]]]) -> None:
    medians = {
        name: {op: statistics.median(v) for op, v in ops.items()} for name, ops in samples.items()
    }
    print(
        f"{'operation':<18}{'reelgate':>12}{'openai SDK':>12}{'httpx2':>12}{'rg/httpx2':>11}{'rg/SDK':>9}  n"
    )
    for op in OPS:
        rg, sdk, raw = (medians[name][op] * 1000 for name in ("reelgate", "openai SDK", "httpx2"))
        n = len(samples["reelgate"][op])
        print(
            f"{op:<18}{rg:>10.3f}ms{sdk:>10.3f}ms{raw:>10.3f}ms{rg / raw:>10.2f}x{rg / sdk:>8.2f}x  {n}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--creates", type=int, default=10)
    parser.add_argument("--retrieves", type=int, default=25)
    parser.add_argument("--downloads", type=int, default=2)
    args = parser.parse_args()
    process, url = start_emulator()
    try:
        samples = anyio.run(run, args, url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"python {sys.version.split()[0]}, openai {openai.__version__}, emulator at {url}")
    report(samples)


if __name__ == "__main__":
    main()
