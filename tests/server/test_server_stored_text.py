"""Text a provider sent that is no valid Unicode never makes a read or list a 500 (item 8)."""

from __future__ import annotations

import httpx2
from server_support import serve_app, sim_gateway

from reelgate import Call, CreateVideo, Video, VideoStatus
from reelgate.gateway import ProviderInstance
from reelgate.server import create_app

BROKEN = "a boat \ud800 at sea"


class BrokenText:
    """A provider whose jobs carry a lone surrogate in their prompt and model."""

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        return Video(id="job-1", status=VideoStatus.QUEUED, prompt=BROKEN, model="m\udfff")

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        return Video(id=video_id, status=VideoStatus.QUEUED, prompt=BROKEN, model="m\udfff")


def test_a_stored_lone_surrogate_reads_and_lists() -> None:
    """Create, retrieve and list answer 200 with the text replaced, not a 500."""
    instance = ProviderInstance(name="broken", type="broken", provider=BrokenText())
    gateway = sim_gateway(instances={"broken": instance})
    with serve_app(create_app(gateway, keys={}, close_gateway=True)) as url:
        created = httpx2.post(f"{url}/v1/videos", json={"model": "broken/m", "prompt": "x"})
        assert created.status_code == 200, created.text
        assert created.json()["prompt"] == "a boat ? at sea"
        vid = created.json()["id"]
        for path in (f"/v1/videos/{vid}", "/v1/videos?provider=broken", "/openai/v1/videos/" + vid):
            response = httpx2.get(url + path)
            assert response.status_code == 200, (path, response.text)
            response.json()
