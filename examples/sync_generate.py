"""
The same job from blocking code: `SyncGateway` has the methods of `Gateway`, blocking.

    python examples/sync_generate.py [OUTPUT_DIR]

Writes the video and its thumbnail to OUTPUT_DIR (a new temporary folder by default).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import reelgate


def main() -> None:
    """Create a job, wait for it, download the video and stream the thumbnail."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="reelgate-"))
    folder.mkdir(parents=True, exist_ok=True)

    with reelgate.SyncGateway.from_config() as gw:
        video = gw.create(
            reelgate.CreateVideo(
                model="sim/sim-1",
                prompt="a lighthouse in a storm",
                extra_params={"sim_duration": 1},
            )
        )
        print(f"created {video.id} ({video.status.value})")

        video = gw.wait(video.id, timeout=60).raise_for_status()
        print(f"finished {video.id} ({video.status.value})")

        # The simplest download: to a file, atomically.
        mp4 = gw.download_to(video.id, folder / "lighthouse.mp4")
        print(f"wrote {mp4} ({mp4.stat().st_size} bytes)")

        # Or stream any variant chunk by chunk: nothing is held whole in memory.
        with gw.download(video.id, "thumbnail") as stream, (folder / "thumb.webp").open("wb") as f:
            for chunk in stream:
                f.write(chunk)
        print(f"wrote {folder / 'thumb.webp'} ({stream.content_type})")


if __name__ == "__main__":
    main()
