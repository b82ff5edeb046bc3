"""reelgate's HTTP server serves fal jobs on /v1/videos."""

from __future__ import annotations

import httpx
import pytest
from fal_support import INSTANCE, JOB_SECONDS, Clock

from reelgate.gateway import Gateway
from reelgate.server import create_app

pytestmark = pytest.mark.anyio


async def test_create_read_and_download_over_v1_videos(gateway: Gateway, clock: Clock) -> None:
    """POST /v1/videos queues on fal; GET reads it; /content streams the result."""
    app = create_app(gateway, keys={})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        model = f"{INSTANCE}/fal-ai/kling-video/v2.1/master/text-to-video"
        created = await http.post(
            "/v1/videos", json={"model": model, "prompt": "a paper boat", "seconds": "5"}
        )
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        assert created.json()["status"] == "queued"
        assert "provider_state" not in created.json()
        clock.advance(JOB_SECONDS)
        read = await http.get(f"/v1/videos/{video_id}")
        assert read.json()["status"] == "completed"
        content = await http.get(f"/v1/videos/{video_id}/content")
        assert content.content[4:8] == b"ftyp"
