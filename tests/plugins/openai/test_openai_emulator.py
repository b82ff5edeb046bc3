"""The emulator answers raw HTTP as OpenAI's videos API does (providers.md §1)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from reelgate import media
from reelgate.model import Variant
from reelgate_openai.emulator import create_app, image_size

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Bearer sk-emulator-test"}
MakePng = Callable[[int, int], bytes]


@pytest.fixture(name="app")
def _app() -> Any:
    """A fresh emulator."""
    return create_app(job_seconds=0.2)


@pytest.fixture(name="http")
async def _http(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    """A raw HTTP client for the emulator, authenticated."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://emulator.test/v1", headers=AUTH
    ) as client:
        yield client


def _error(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]  # type: ignore[no-any-return]


async def test_create_answers_a_complete_video_object(http: httpx2.AsyncClient) -> None:
    """Every required key of the video object is present; the defaults are filled in."""
    response = await http.post("/videos", files={"prompt": (None, "a paper boat")})
    assert response.status_code == 200
    assert response.headers["openai-poll-after-ms"] == "10"
    assert response.headers["x-request-id"].startswith("req_")
    video = response.json()
    assert set(video) == {
        "id", "object", "model", "status", "progress", "created_at", "completed_at",
        "expires_at", "prompt", "size", "seconds", "remixed_from_video_id", "error",
    }  # fmt: skip
    assert video["id"].startswith("video_")
    assert (video["model"], video["seconds"], video["size"]) == ("sora-2", "4", "720x1280")
    assert (video["status"], video["progress"], video["error"]) == ("queued", 0, None)


async def test_json_create_checks_types(http: httpx2.AsyncClient) -> None:
    """In JSON, seconds given as an integer is invalid_type, as OpenAI answers it."""
    response = await http.post("/videos", json={"prompt": "a boat", "seconds": 8})
    assert response.status_code == 400
    error = _error(response)
    assert (error["param"], error["code"]) == ("seconds", "invalid_type")
    assert "but got an integer instead" in error["message"]


_URL = "input_reference.image_url"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": "a", "model": "sora-9"}, "model", "invalid_value"),
        ({"prompt": "a", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "a", "size": "1920x1080"}, "size", "invalid_value"),
        ({"prompt": "a", "seed": 3}, "seed", "unknown_parameter"),
        ({"prompt": "a", "input_reference": {"image_url": "ftp://x/y.png"}}, _URL, "invalid_value"),
        (
            {"prompt": "a", "input_reference": {"file_id": "file-1"}},
            "input_reference.file_id",
            "invalid_value",
        ),
        (
            {"prompt": "a", "input_reference": {"image_url": "https://x", "file_id": "f"}},
            "input_reference",
            "invalid_value",
        ),
    ],
)
async def test_json_create_validation(
    http: httpx2.AsyncClient, body: dict[str, Any], param: str, code: str
) -> None:
    """Each invalid field is a 400 naming the field, in OpenAI's envelope."""
    response = await http.post("/videos", json=body)
    assert response.status_code == 400
    error = _error(response)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


async def test_json_create_takes_a_data_url(http: httpx2.AsyncClient, make_png: MakePng) -> None:
    """input_reference.image_url may be a data URL, checked like an upload."""
    url = "data:image/png;base64," + base64.b64encode(make_png(1280, 720)).decode()
    ok = await http.post(
        "/videos", json={"prompt": "a", "size": "1280x720", "input_reference": {"image_url": url}}
    )
    assert ok.status_code == 200
    wrong = await http.post("/videos", json={"prompt": "a", "input_reference": {"image_url": url}})
    assert wrong.status_code == 400
    assert _error(wrong)["message"] == "Inpaint image must match the requested width and height"


async def test_multipart_takes_the_bracketed_object_form(http: httpx2.AsyncClient) -> None:
    """Multipart may carry input_reference[image_url], as the SDK's serializer would write it."""
    fields = {
        "prompt": (None, "a"),
        "input_reference[image_url]": (None, "https://images.example/a.png"),
    }
    assert (await http.post("/videos", files=fields)).status_code == 200


async def test_multipart_refuses_a_string_reference_and_odd_files(http: httpx2.AsyncClient) -> None:
    """A string where the file goes is invalid_type; a file that is not an image is refused."""
    text = await http.post("/videos", files={"prompt": (None, "a"), "input_reference": (None, "x")})
    assert _error(text)["code"] == "invalid_type"
    odd = await http.post(
        "/videos",
        files={"prompt": (None, "a"), "input_reference": ("a.txt", b"hello", "text/plain")},
    )
    assert (odd.status_code, _error(odd)["param"]) == (400, "input_reference")


async def test_other_bodies_are_refused(http: httpx2.AsyncClient) -> None:
    """Broken JSON and other content types are 400s in OpenAI's envelope."""
    broken = await http.post("/videos", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert "could not parse the JSON body" in _error(broken)["message"]
    form = await http.post("/videos", data={"prompt": "a"})
    assert form.status_code == 400


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}]
)
async def test_requests_need_a_bearer_key(app: Any, headers: dict[str, str]) -> None:
    """Without Authorization: Bearer <key>, every route answers 401."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://emulator.test/v1"
    ) as client:
        response = await client.get("/videos", headers=headers)
    assert response.status_code == 401
    assert "didn't provide an API key" in _error(response)["message"]


async def test_jobs_progress_over_time(http: httpx2.AsyncClient) -> None:
    """A job goes queued -> in_progress with rising progress -> completed at 100."""
    video_id = (await http.post("/videos", files={"prompt": (None, "a")})).json()["id"]
    states: list[tuple[str, int]] = []
    deadline = time.monotonic() + 30
    while not states or states[-1][0] != "completed":
        assert time.monotonic() < deadline
        video = (await http.get(f"/videos/{video_id}")).json()
        states.append((video["status"], video["progress"]))
    statuses = [s for s, _ in states]
    assert statuses[0] == "queued"
    assert statuses == sorted(statuses, key=["queued", "in_progress", "completed"].index)
    assert [p for _, p in states] == sorted(p for _, p in states)
    assert states[-1] == ("completed", 100)


async def test_list_pages_with_cursors(http: httpx2.AsyncClient) -> None:
    """List pages carry first_id, last_id and has_more; a deleted cursor still works."""
    ids = [
        (await http.post("/videos", files={"prompt": (None, f"{i}")})).json()["id"]
        for i in range(3)
    ]
    page = (await http.get("/videos", params={"limit": 2})).json()
    assert page["object"] == "list"
    assert [v["id"] for v in page["data"]] == [ids[2], ids[1]]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
    assert (await http.delete(f"/videos/{ids[1]}")).status_code == 200
    rest = (await http.get("/videos", params={"limit": 2, "after": ids[1]})).json()
    assert ([v["id"] for v in rest["data"]], rest["has_more"]) == ([ids[0]], False)
    empty = (await http.get("/videos", params={"after": ids[0]})).json()
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"order": "up"}, "order"),
        ({"after": "v"}, "after"),
    ],
)
async def test_list_validation(
    http: httpx2.AsyncClient, params: dict[str, Any], param: str
) -> None:
    """A bad limit, order or cursor is a 400 naming it."""
    response = await http.get("/videos", params=params)
    assert (response.status_code, _error(response)["param"]) == (400, param)


async def test_content_variants_and_refusals(http: httpx2.AsyncClient) -> None:
    """Content is refused until completed, then served per variant; a bad variant is a 400."""
    video_id = (await http.post("/videos", files={"prompt": (None, "a")})).json()["id"]
    early = await http.get(f"/videos/{video_id}/content")
    assert (early.status_code, _error(early)["type"]) == (404, "invalid_request_error")
    deadline = time.monotonic() + 30
    while (await http.get(f"/videos/{video_id}")).json()["status"] != "completed":
        assert time.monotonic() < deadline
    for variant, content_type in [
        ("video", "video/mp4"),
        ("thumbnail", "image/webp"),
        ("spritesheet", "image/jpeg"),
    ]:
        response = await http.get(f"/videos/{video_id}/content", params={"variant": variant})
        assert response.headers["content-type"] == content_type
        assert response.content == media.sample(Variant(variant))
    bad = await http.get(f"/videos/{video_id}/content", params={"variant": "poster"})
    assert (bad.status_code, _error(bad)["param"]) == (400, "variant")


async def test_delete_then_404(http: httpx2.AsyncClient) -> None:
    """A deleted video answers 404 on every route."""
    video_id = (await http.post("/videos", files={"prompt": (None, "a")})).json()["id"]
    deleted = await http.delete(f"/videos/{video_id}")
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    for response in (
        await http.get(f"/videos/{video_id}"),
        await http.delete(f"/videos/{video_id}"),
        await http.get(f"/videos/{video_id}/content"),
        await http.post(f"/videos/{video_id}/remix", json={"prompt": "b"}),
    ):
        assert response.status_code == 404
        assert _error(response)["type"] == "invalid_request_error"


async def test_remix_validation(http: httpx2.AsyncClient) -> None:
    """A remix needs a prompt and no other field."""
    video_id = (await http.post("/videos", files={"prompt": (None, "a")})).json()["id"]
    missing = await http.post(f"/videos/{video_id}/remix", json={})
    assert _error(missing)["code"] == "missing_required_parameter"
    extra = await http.post(
        f"/videos/{video_id}/remix", json={"prompt": "b", "model": "sora-2-pro"}
    )
    assert _error(extra)["code"] == "unknown_parameter"


async def test_padded_video_is_still_an_mp4() -> None:
    """With video_bytes, the video is the sample MP4 followed by one free box to that size."""
    app = create_app(job_seconds=0, video_bytes=1_000_000)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://e/v1", headers=AUTH
    ) as client:
        video_id = (await client.post("/videos", files={"prompt": (None, "a")})).json()["id"]
        body = (await client.get(f"/videos/{video_id}/content")).content
    sample = media.sample(Variant.VIDEO)
    assert len(body) == 1_000_000
    assert body.startswith(sample)
    assert int.from_bytes(body[len(sample) : len(sample) + 4], "big") == len(body) - len(sample)
    assert body[len(sample) + 4 : len(sample) + 8] == b"free"


def test_image_size_reads_png_jpeg_and_webp(make_png: MakePng) -> None:
    """image_size tells the dimensions of the three image formats OpenAI takes."""
    assert image_size(make_png(1280, 720)) == (1280, 720)
    jpeg, webp = (
        image_size(media.sample(Variant.SPRITESHEET)),
        image_size(media.sample(Variant.THUMBNAIL)),
    )
    assert jpeg is not None
    assert jpeg[0] > 0
    assert webp is not None
    assert webp[0] > 0
    assert image_size(b"GIF89a....") is None


def test_runs_standalone() -> None:
    """python -m reelgate_openai.emulator --port N serves the API until stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "reelgate_openai.emulator",
        "--port",
        str(port),
        "--job-seconds",
        "0.1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.get(f"http://127.0.0.1:{port}/v1/videos", headers=AUTH)
                break
            except httpx2.ConnectError:
                assert process.poll() is None, "the emulator exited"
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert json.loads(response.content)["object"] == "list"
    finally:
        process.terminate()
        process.wait(timeout=10)
