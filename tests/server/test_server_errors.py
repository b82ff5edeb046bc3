"""Client mistakes are 400s with a clear message; every error has the seeds' error body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx2
import pytest
from server_relay import RelayState
from server_support import SIM_NOW, Serve

from reelgate.emulation import Fault

JSON = {"content-type": "application/json"}


def check_error(response: httpx2.Response, status: int, request_type: str | None) -> str:
    """The error body of the seeds, with `status`; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status_code"] == status
    assert isinstance(body["is_bifrost_error"], bool)
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if request_type is not None:
        assert body["extra_fields"]["request_type"] == request_type
    message: str = body["error"]["message"]
    return message


@attrs.frozen
class Mistake:
    """A request a client got wrong, and what the 400's message must say."""

    method: str
    path: str
    body: bytes | None
    request_type: str
    words: str
    headers: dict[str, str] = attrs.field(factory=lambda: dict(JSON))

    def __str__(self) -> str:
        return f"{self.method} {self.path} {(self.body or b'')[:24]!r}"


def create(body: bytes, words: str, **headers: str) -> Mistake:
    """A create with a bad body."""
    return Mistake("POST", "/v1/videos", body, "video_generation", words, {**JSON, **headers})


def fields(extra: str, words: str) -> Mistake:
    """A create whose JSON has `extra` after a valid model and prompt."""
    body = b'{"model": "sim/sim-1", "prompt": "x"' + extra.encode() + b"}"
    return create(body, words)


def get(path: str, request_type: str, words: str) -> Mistake:
    """A GET with a bad path or query."""
    return Mistake("GET", path, None, request_type, words, {})


def remix(body: bytes, words: str, content_type: str = "application/json") -> Mistake:
    """A remix with a bad body."""
    headers = {"content-type": content_type}
    return Mistake("POST", "/v1/videos/x:sim/remix", body, "video_remix", words, headers)


MISTAKES = [
    create(b'{"model": "sim/sim-1",', "not valid JSON"),
    create(b"", "empty"),
    create(b"[1, 2]", "JSON object"),
    create(b"[" * 100_000, "nested too deeply"),
    create(b'{"model": "sim/sim-1", "prompt": NaN}', "not valid JSON"),
    create(b"\xff\xfe", "not valid JSON"),
    create(b"hi", "Content-Type", **{"content-type": "application/xml"}),
    create(b"x", "multipart", **{"content-type": "multipart/form-data"}),
    create(b'{"model": "sim/sim-1"}', "prompt"),
    create(b'{"model": "sim/sim-1", "prompt": " "}', "prompt"),
    create(b'{"model": "string", "prompt": "x"}', "provider/model"),
    create(b'{"model": "nope/x", "prompt": "x"}', "unknown provider"),
    create(b"{}", "Idempotency-Key", **{"idempotency-key": "x" * 300}),
    fields(', "seconds": "abc"', "seconds"),
    fields(', "size": "big"', "size"),
    fields(', "seed": "1"', "seed"),
    fields(', "input_reference": "%%"', "input_reference"),
    fields(', "fallbacks": "sim/sim-1"', "fallbacks"),
    get("/v1/videos", "video_list", "provider query parameter is required"),
    get("/v1/videos?provider=", "video_list", "provider"),
    get("/v1/videos?provider=sim&limit=0", "video_list", "limit"),
    get("/v1/videos?provider=sim&limit=101", "video_list", "limit"),
    get("/v1/videos?provider=sim&limit=abc", "video_list", "limit"),
    get("/v1/videos?provider=sim&limit=1&limit=2", "video_list", "more than once"),
    get("/v1/videos?provider=sim&order=up", "video_list", "order"),
    get("/v1/videos?provider=sim&after=nonsense", "video_list", "id:provider"),
    get("/v1/videos?provider=sim&after=x:relay", "video_list", "not a video of provider"),
    get("/v1/videos?provider=string", "video_list", "unknown provider"),
    get("/v1/videos/string", "video_retrieve", "id:provider"),
    get("/v1/videos/a%ZZ:sim", "video_retrieve", "encoding"),
    get("/v1/videos/", "video_retrieve", "video_id is required"),
    get("/v1/videos/string/content", "video_download", "id:provider"),
    get("/v1/videos/x:sim/content?variant=poster", "video_download", "variant"),
    get("/openai/v1/videos/string", "video_retrieve", "id:provider"),
    Mistake("DELETE", "/v1/videos/string", None, "video_delete", "id:provider", {}),
    Mistake("POST", "/openai/v1/videos", b"nope", "video_generation", "JSON"),
    remix(b"{}", "prompt"),
    remix(b'{"prompt": 5}', "prompt"),
    remix(b"{oops", "JSON"),
    remix(b"x", "Content-Type", "application/xml"),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_client_mistakes_are_400_with_a_clear_message(shared_server: str, mistake: Mistake) -> None:
    """Each client mistake is a 400 whose message names the problem."""
    with httpx2.Client(base_url=shared_server) as client:
        response = client.request(
            mistake.method, mistake.path, headers=mistake.headers, content=mistake.body
        )
    assert mistake.words in check_error(response, 400, mistake.request_type)


@pytest.mark.anyio
async def test_body_over_the_cap_is_400(make_server: Serve) -> None:
    """A body over the configured cap is refused, announced or streamed."""
    url = make_server(max_body_bytes=1024)
    padded = {**SIM_NOW, "padding": "x" * 2048}

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 1000

    async with httpx2.AsyncClient(base_url=url) as client:
        announced = await client.post("/v1/videos", json=padded)
        assert "larger than" in check_error(announced, 400, "video_generation")
        assert announced.json()["error"]["code"] == "body_too_large"
        streamed = await client.post("/v1/videos", content=chunked(), headers=JSON)
        assert streamed.json()["error"]["code"] == "body_too_large"
        small = await client.post("/v1/videos", json=SIM_NOW)
        assert small.status_code == 200


@pytest.mark.anyio
async def test_unknown_video_is_404(server: str) -> None:
    """A well-formed id the provider does not know is a 404."""
    async with httpx2.AsyncClient(base_url=server) as client:
        response = await client.get("/v1/videos/sim_0_0_c_0_000000_0000:sim")
    check_error(response, 404, "video_retrieve")
    assert response.json()["extra_fields"]["provider"] == "sim"


@pytest.mark.anyio
async def test_id_of_an_unknown_instance_is_404(server: str) -> None:
    """An id naming an instance nobody configured names no job: 404, like any unknown job."""
    async with httpx2.AsyncClient(base_url=server) as client:
        for response in (
            await client.get("/v1/videos/x:no-such-provider"),
            await client.get("/v1/videos/x:no-such-provider/content"),
            await client.delete("/v1/videos/x:no-such-provider"),
        ):
            assert "no video" in check_error(response, 404, None)


@pytest.mark.anyio
async def test_unknown_route_404_and_wrong_method_405(server: str) -> None:
    """No route is a 404, a wrong method a 405 naming the allowed ones, both as JSON."""
    async with httpx2.AsyncClient(base_url=server) as client:
        missing = await client.get("/v2/videos")
        wrong = await client.put("/v1/videos/x:sim")
        deeper = await client.get("/v1/videos/x:sim/content/more")
    check_error(missing, 404, None)
    check_error(deeper, 404, None)
    check_error(wrong, 405, None)
    assert wrong.headers["allow"] == "DELETE, GET"


@pytest.mark.parametrize(
    ("fault", "status", "is_bifrost_error"),
    [
        (Fault(status=500, times=1), 502, False),
        (Fault(status=429, headers={"retry-after": "7"}), 429, False),
        (Fault(status=401), 401, False),
        (Fault(status=403), 403, False),
        (Fault(malformed=True), 502, True),
    ],
)
@pytest.mark.anyio
async def test_upstream_failures_keep_their_status(
    server: str,
    relay_state: RelayState,
    fault: Fault,
    status: int,
    is_bifrost_error: bool,
) -> None:
    """Provider failures answer the taxonomy's status; the provider's own are not ours."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post("/v1/videos", json={"model": "relay/relay-1", "prompt": "x"})
        relay_state.faults.add(fault)
        response = await client.get(f"/v1/videos/{made.json()['id']}")
    check_error(response, status, "video_retrieve")
    body: dict[str, Any] = response.json()
    assert body["is_bifrost_error"] is is_bifrost_error
    assert body["extra_fields"]["provider"] == "relay"
    if status == 429:
        assert response.headers["retry-after"] == "7"
