"""The /v1/videos routes over real HTTP: shapes, pagination, download, delete, remix."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from server_support import SIM_NOW, serve_app, sim_gateway
from starlette.applications import Starlette
from starlette.routing import Mount

from reelgate import media
from reelgate.model import Variant
from reelgate.server import create_app

pytestmark = pytest.mark.anyio

STATUSES = {"queued", "in_progress", "completed", "failed"}


def check_extra(body: dict[str, Any], request_type: str, provider: str) -> None:
    """The extra_fields every JSON answer carries."""
    extra = body["extra_fields"]
    assert extra["request_type"] == request_type
    assert extra["provider"] == provider
    assert isinstance(extra["latency"], int)
    assert extra["latency"] >= 0
    assert extra["chunk_index"] == 0


async def create(client: httpx2.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Create a job and return its body."""
    response = await client.post("/v1/videos", json={**SIM_NOW, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_and_retrieve_answer_the_video_object(server: str) -> None:
    """Create and retrieve answer the seeds' video object with extra_fields."""
    async with httpx2.AsyncClient(base_url=server) as client:
        response = await client.post(
            "/v1/videos",
            json={"model": "sim/sim-1", "prompt": "a paper boat", "seconds": "8"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        created = response.json()
        assert created["id"].endswith(":sim")
        assert created["object"] == "video"
        assert created["status"] in STATUSES
        assert created["prompt"] == "a paper boat"
        assert created["seconds"] == "8"
        assert isinstance(created["created_at"], int)
        check_extra(created, "video_generation", "sim")
        assert created["extra_fields"]["model_requested"] == "sim-1"

        got = (await client.get(f"/v1/videos/{created['id']}")).json()
        assert got["id"] == created["id"]
        assert got["status"] in STATUSES
        check_extra(got, "video_retrieve", "sim")


async def test_create_accepts_multipart_with_an_image_file(server: str) -> None:
    """/v1/videos takes multipart/form-data too, input_reference as a file."""
    form = {"model": "sim/sim-1", "prompt": "from an image", "seconds": "8", "sim_duration": "0"}
    async with httpx2.AsyncClient(base_url=server) as client:
        image = {"input_reference": ("ref.webp", media.sample(Variant.THUMBNAIL), "image/webp")}
        made = await client.post("/v1/videos", data=form, files=image)
        not_image = {"input_reference": ("ref.txt", b"hello", "text/plain")}
        refused = await client.post("/v1/videos", data=form, files=not_image)
    assert made.status_code == 200, made.text
    assert made.json()["seconds"] == "8"
    assert made.json()["status"] == "completed"
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "input_reference"


async def test_list_pages_with_cursors(server: str) -> None:
    """List follows limit, order and after, with exact has_more and first/last ids."""
    async with httpx2.AsyncClient(base_url=server) as client:
        ids = [(await create(client, prompt=f"boat {i}"))["id"] for i in range(3)]
        first = (await client.get("/v1/videos?provider=sim&limit=2&order=asc")).json()
        assert first["object"] == "list"
        assert [v["id"] for v in first["data"]] == ids[:2]
        assert first["has_more"] is True
        assert first["first_id"] == ids[0]
        assert first["last_id"] == ids[1]
        check_extra(first, "video_list", "sim")
        assert all("extra_fields" not in item for item in first["data"])

        rest = await client.get(
            "/v1/videos", params={"provider": "sim", "limit": 2, "order": "asc", "after": ids[1]}
        )
        assert [v["id"] for v in rest.json()["data"]] == ids[2:]
        assert rest.json()["has_more"] is False

        newest = (await client.get("/v1/videos?provider=sim")).json()
        assert [v["id"] for v in newest["data"]] == ids[::-1]


async def test_list_of_a_provider_without_list_comes_from_the_index(server: str) -> None:
    """A provider with no list endpoint is listed from the job index."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post("/v1/videos", json={"model": "relay/relay-1", "prompt": "x"})
        listed = (await client.get("/v1/videos?provider=relay")).json()
        assert [v["id"] for v in listed["data"]] == [made.json()["id"]]


@pytest.mark.parametrize(
    ("variant", "content_type", "magic"),
    [
        (None, "video/mp4", (4, b"ftyp")),
        ("video", "video/mp4", (4, b"ftyp")),
        ("thumbnail", "image/webp", (8, b"WEBP")),
        ("sprite_sheet", "image/jpeg", (0, b"\xff\xd8\xff")),
    ],
)
async def test_download_streams_the_asset(
    server: str, variant: str | None, content_type: str, magic: tuple[int, bytes]
) -> None:
    """Download answers the raw bytes with their Content-Type and Content-Length."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video = await create(client)
        params = {"variant": variant} if variant else {}
        response = await client.get(f"/v1/videos/{video['id']}/content", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert int(response.headers["content-length"]) == len(response.content) > 0
        assert "attachment" in response.headers["content-disposition"]
        at, signature = magic
        assert response.content[at : at + len(signature)] == signature


async def test_download_before_completion_is_409(server: str) -> None:
    """A download of an unfinished job is a 409 with the error body, not a 500."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video = await create(client, sim_duration=60)
        response = await client.get(f"/v1/videos/{video['id']}/content")
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "video_not_ready"
        assert response.json()["extra_fields"]["request_type"] == "video_download"


async def test_delete_then_the_video_is_gone(server: str) -> None:
    """Delete answers video.deleted; the job is then a 404 everywhere."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video = await create(client)
        deleted = await client.delete(f"/v1/videos/{video['id']}")
        assert deleted.status_code == 200
        body = deleted.json()
        assert body["id"] == video["id"]
        assert body["object"] == "video.deleted"
        assert body["deleted"] is True
        check_extra(body, "video_delete", "sim")
        for method, path in [
            ("GET", ""),
            ("GET", "/content"),
            ("DELETE", ""),
        ]:
            again = await client.request(method, f"/v1/videos/{video['id']}{path}")
            assert again.status_code == 404, (method, path)
        listed = (await client.get("/v1/videos?provider=sim")).json()
        assert video["id"] not in [v["id"] for v in listed["data"]]


async def test_remix_starts_a_job_from_a_finished_one(server: str) -> None:
    """Remix answers a new job whose remixed_from_video_id is the source."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video = await create(client)
        response = await client.post(
            f"/v1/videos/{video['id']}/remix", json={"prompt": "now at night"}
        )
        assert response.status_code == 200
        remix = response.json()
        assert remix["id"] != video["id"]
        assert remix["remixed_from_video_id"] == video["id"]
        assert remix["prompt"] == "now at night"
        check_extra(remix, "video_remix", "sim")


async def test_ids_with_escaped_slashes_route_verbatim_or_encoded(server: str) -> None:
    """An id like models%2F...%2Fop-1:relay works in paths as is and percent-encoded."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post(
            "/v1/videos", json={"model": "relay/relay-1", "prompt": "x", "relay_bytes": 4096}
        )
        video_id = made.json()["id"]
        assert video_id == "models%2Frelay%2Foperations%2Fop-1:relay"
        for path_id in (video_id, quote(video_id, safe="")):
            got = await client.get(f"/v1/videos/{path_id}")
            assert got.status_code == 200, got.text
            assert got.json()["id"] == video_id
            content = await client.get(f"/v1/videos/{path_id}/content")
            assert content.status_code == 200
            assert len(content.content) == 4096


async def test_unsupported_operations_are_400(server: str) -> None:
    """Remix on a provider without it: 400 code unsupported_operation."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post("/v1/videos", json={"model": "relay/relay-1", "prompt": "x"})
        video_id = made.json()["id"]
        response = await client.post(f"/v1/videos/{video_id}/remix", json={"prompt": "y"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "unsupported_operation"
        assert response.json()["extra_fields"]["provider"] == "relay"


async def test_delete_without_provider_support_forgets_the_job(server: str) -> None:
    """Delete on a provider that can neither delete nor cancel: 200, upstream kept, then 404."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post("/v1/videos", json={"model": "relay/relay-1", "prompt": "x"})
        video_id = made.json()["id"]
        response = await client.delete(f"/v1/videos/{video_id}")
        assert response.status_code == 200
        assert response.json()["upstream"] == "kept"
        assert (await client.get(f"/v1/videos/{video_id}")).status_code == 404


async def test_openai_routes_answer_the_same_objects(server: str) -> None:
    """/openai/v1/videos creates, reads and lists like /v1/videos."""
    async with httpx2.AsyncClient(base_url=f"{server}/openai/v1") as client:
        made = await client.post("/videos", json=SIM_NOW)
        assert made.status_code == 200
        video_id = made.json()["id"]
        got = await client.get(f"/videos/{video_id}")
        assert got.json()["id"] == video_id
        listed = await client.get("/videos", headers={"x-bf-video-list-provider": "sim"})
        assert video_id in [v["id"] for v in listed.json()["data"]]
        by_query = await client.get("/videos", params={"provider": "sim", "limit": 1})
        assert len(by_query.json()["data"]) == 1


async def test_openai_routes_default_to_an_openai_instance(server: str) -> None:
    """A bare model or a list without a provider means the openai instance, said clearly."""
    async with httpx2.AsyncClient(base_url=f"{server}/openai/v1") as client:
        bare = await client.post("/videos", json={"model": "sora-2", "prompt": "x"})
        assert bare.status_code == 400
        assert "provider/model" in bare.json()["error"]["message"]
        listed = await client.get("/videos")
        assert listed.status_code == 400
        assert "'openai'" in listed.json()["error"]["message"]


async def test_health(server: str) -> None:
    """GET /health answers ok."""
    async with httpx2.AsyncClient(base_url=server) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_mounted_under_a_prefix() -> None:
    """Mounted inside another ASGI app, routes (escaped ids included) still work."""
    gateway = sim_gateway()
    parent = Starlette(routes=[Mount("/reelgate", app=create_app(gateway, keys={}))])
    with serve_app(parent) as url:
        async with httpx2.AsyncClient(base_url=f"{url}/reelgate") as client:
            video = await create(client)
            got = await client.get(f"/v1/videos/{quote(video['id'], safe='')}")
            assert got.status_code == 200
            assert got.json()["id"] == video["id"]
            missing = await client.get("/v1/videos/models%2Fx%2Fy:sim")
            assert missing.status_code == 404
            assert (await client.get("/health")).json() == {"status": "ok"}
    await gateway.aclose()
