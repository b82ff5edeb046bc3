"""
List jobs page by page, then let `iter_videos` follow the cursors.

    python examples/list_jobs.py

The simulator has no list endpoint of its own: the gateway's job index answers, with the
same cursors as a provider that has one. The index is a SQLite file under the state
directory (``$REELGATE_STATE_DIR``), so jobs of earlier runs are listed too.
"""

from __future__ import annotations

import anyio

import reelgate


async def main() -> None:
    """Create five jobs, page through them two at a time, then iterate oldest first."""
    async with reelgate.Gateway.from_config() as gw:
        created = []
        for n in range(5):
            request = reelgate.CreateVideo(model="sim/sim-1", prompt=f"scene {n}")
            created.append((await gw.create(request)).id)
        print(f"created {len(created)} jobs")

        # One page at a time: `after` is the last id of the previous page.
        after = None
        number = 0
        while True:
            page = await gw.list("sim", limit=2, order="desc", after=after)
            number += 1
            print(f"page {number}: {[v.prompt for v in page.data]} has_more={page.has_more}")
            if not page.has_more:
                break
            after = page.last_id

        # Or let the gateway follow the cursors.
        oldest_first = [v.id async for v in gw.iter_videos("sim", order="asc", page_size=2)]
        mine = [video_id for video_id in oldest_first if video_id in created]
        print(f"iter_videos saw {len(mine)} of them, oldest first: {mine == created}")

        # Bad parameters are refused before any provider is asked.
        try:
            await gw.list("sim", limit=0)
        except reelgate.InvalidRequestError as e:
            print(f"refused: {e.message} (param={e.param}, HTTP {e.status_code})")


if __name__ == "__main__":
    anyio.run(main)
