"""Keys: who may call, and each key's jobs are its own."""

from __future__ import annotations

import httpx2
import pytest
from server_support import KEY_A, KEY_B, KEYS, SIM_NOW, Serve, serve_app, sim_gateway

from reelgate.config import Secret
from reelgate.errors import ConfigurationError
from reelgate.server import (
    KEYS_ENV,
    ServerKeys,
    create_app,
    is_loopback,
    keys_from_environment,
    run,
)

A = {"authorization": f"Bearer {KEY_A}"}
B = {"x-api-key": KEY_B}


@pytest.mark.anyio
async def test_keys_are_required_when_configured(make_server: Serve) -> None:
    """Without a key, or with a wrong one: 401 with the error body and a challenge."""
    url = make_server(keys=KEYS)
    async with httpx2.AsyncClient(base_url=url) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "wrong"}):
            response = await client.get("/v1/videos?provider=sim", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            body = response.json()
            assert body["status_code"] == 401
            assert body["extra_fields"]["request_type"] == "video_list"
            assert KEY_A not in response.text
        bad_body = await client.post("/v1/videos", content=b"{", headers={})
        assert bad_body.status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEY_A}"},
        {"authorization": f"bearer  {KEY_A}"},
        {"x-api-key": KEY_A},
        {"x-bf-vk": KEY_A},
    ],
)
async def test_each_documented_header_authenticates(
    make_server: Serve, headers: dict[str, str]
) -> None:
    """Authorization: Bearer, x-api-key and x-bf-vk each carry the key."""
    url = make_server(keys=KEYS)
    async with httpx2.AsyncClient(base_url=url, headers=headers) as client:
        made = await client.post("/v1/videos", json=SIM_NOW)
        assert made.status_code == 200
        assert (await client.get(f"/v1/videos/{made.json()['id']}")).status_code == 200


@pytest.mark.anyio
async def test_health_and_openapi_need_no_key(make_server: Serve) -> None:
    """Health checks and the API description are open."""
    url = make_server(keys=KEYS)
    async with httpx2.AsyncClient(base_url=url) as client:
        assert (await client.get("/health")).status_code == 200
        document = (await client.get("/openapi.json")).json()
    assert set(document["components"]["securitySchemes"]) == {
        "BearerAuth",
        "ApiKeyAuth",
        "VirtualKeyAuth",
    }


@pytest.mark.anyio
async def test_a_job_belongs_to_the_key_that_created_it(make_server: Serve) -> None:
    """Another key gets a 404 for every operation and does not see the job in lists."""
    url = make_server(keys=KEYS)
    async with (
        httpx2.AsyncClient(base_url=url, headers=A) as alice,
        httpx2.AsyncClient(base_url=url, headers=B) as bob,
    ):
        video_id = (await alice.post("/v1/videos", json=SIM_NOW)).json()["id"]
        theirs = (await bob.post("/v1/videos", json=SIM_NOW)).json()["id"]
        for method, path, body in [
            ("GET", "", None),
            ("GET", "/content", None),
            ("POST", "/remix", {"prompt": "mine now"}),
            ("DELETE", "", None),
        ]:
            response = await bob.request(method, f"/v1/videos/{video_id}{path}", json=body)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["type"] == "not_found"
        assert [v["id"] for v in (await bob.get("/v1/videos?provider=sim")).json()["data"]] == [
            theirs
        ]
        mine = (await alice.get("/v1/videos?provider=sim")).json()["data"]
        assert [v["id"] for v in mine] == [video_id]
        assert (await alice.get(f"/v1/videos/{video_id}")).status_code == 200
        assert (await alice.delete(f"/v1/videos/{video_id}")).status_code == 200


@pytest.mark.anyio
async def test_keys_come_from_the_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """create_app without keys= reads REELGATE_SERVER_KEYS: the variables it names."""
    monkeypatch.setenv(KEYS_ENV, "TEAM_A_KEY")
    monkeypatch.setenv("TEAM_A_KEY", KEY_A)
    gateway = sim_gateway()
    with serve_app(create_app(gateway, close_gateway=True)) as url:
        async with httpx2.AsyncClient(base_url=url) as client:
            assert (await client.get("/v1/videos?provider=sim")).status_code == 401
            ok = await client.get("/v1/videos?provider=sim", headers=A)
            assert ok.status_code == 200


def test_keys_from_environment() -> None:
    """The named variables' values become keys named after them."""
    keys = keys_from_environment(
        {KEYS_ENV: " TEAM_A_KEY , TEAM_B_KEY,", "TEAM_A_KEY": KEY_A, "TEAM_B_KEY": KEY_B}
    )
    assert [k.name for k in keys] == ["TEAM_A_KEY", "TEAM_B_KEY"]
    assert [k.reveal() for k in keys] == [KEY_A, KEY_B]
    assert keys_from_environment({}) == ()


def test_a_key_pasted_into_the_variable_is_refused_without_echoing_it() -> None:
    """REELGATE_SERVER_KEYS holds names; a key put there is refused, and not repeated."""
    with pytest.raises(ConfigurationError) as refused:
        keys_from_environment({KEYS_ENV: KEY_A})
    assert KEY_A not in str(refused.value)
    assert "names of environment variables" in str(refused.value)


def test_a_named_variable_must_be_set() -> None:
    """A named but unset (or empty) variable stops the server rather than dropping a key."""
    with pytest.raises(ConfigurationError, match="TEAM_A_KEY"):
        keys_from_environment({KEYS_ENV: "TEAM_A_KEY"})
    with pytest.raises(ConfigurationError, match="TEAM_A_KEY"):
        keys_from_environment({KEYS_ENV: "TEAM_A_KEY", "TEAM_A_KEY": "  "})


def test_server_keys_refuse_ambiguity() -> None:
    """Keys must be non-empty and distinct, in value and in name."""
    with pytest.raises(ConfigurationError):
        ServerKeys({"A": KEY_A, "B": KEY_A})
    with pytest.raises(ConfigurationError):
        ServerKeys([Secret(KEY_A, name="A"), Secret(KEY_B, name="A")])
    with pytest.raises(ConfigurationError):
        ServerKeys({"A": ""})
    assert not ServerKeys({})
    assert ServerKeys(KEYS).names == ("TEAM_A_KEY", "TEAM_B_KEY")


def test_run_refuses_a_public_address_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no keys, run() will not listen beyond loopback."""
    monkeypatch.delenv(KEYS_ENV, raising=False)
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.com"):  # noqa: S104  # the point of the test
        with pytest.raises(ConfigurationError, match="no server keys"):
            run(host=host, port=1)


def test_loopback_addresses() -> None:
    """Loopback is 127.0.0.0/8, ::1 and localhost; nothing else."""
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "10.0.0.1", "::", "example.com", ""]))  # noqa: S104
