"""
Generate a video through the built-in simulator: create, wait with progress, download.

    python examples/generate.py [OUTPUT.mp4] [--backend asyncio|trio]

No key and no network: the ``sim`` provider ships with reelgate. With ``reelgate-runway``
installed and ``RUNWAYML_API_SECRET`` set, the same code makes a real video: change the
model to ``runway/gen4.5`` and drop the simulator's ``sim_duration``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

import reelgate


def show_progress(video: reelgate.Video) -> None:
    """Print each state `wait` sees."""
    print(f"  {video.status.value:<11} {video.progress or 0:5.1f}%")


async def generate(out: Path) -> None:
    """Create a job, wait for it, and download the video to `out`."""
    async with reelgate.Gateway.from_config() as gw:
        video = await gw.create(
            reelgate.CreateVideo(
                model="sim/sim-1",
                prompt="a paper boat drifting across a pond at dawn",
                seconds=4,
                size="1280x720",
                extra_params={"sim_duration": 1.5},  # a short job for the example
            )
        )
        print(f"created {video.id}")

        video = await gw.wait(video.id, timeout=60, on_update=show_progress)
        video.raise_for_status()  # a failed job raises VideoFailedError here

        path = await gw.download_to(video.id, out)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


def main() -> None:
    """Read the command line and run `generate` under the chosen event loop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, help="where to write the MP4")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    out = args.output or Path(tempfile.mkdtemp(prefix="reelgate-")) / "boat.mp4"
    anyio.run(generate, out, backend=args.backend)


if __name__ == "__main__":
    main()
