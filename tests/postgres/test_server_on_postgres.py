"""Two servers over HTTP sharing one PostgreSQL index, and a 503 while it is away."""

from __future__ import annotations

import time

import httpx2
import pytest
from local_postgres import LocalPostgres
from starlette.applications import Starlette

from reelgate import Gateway
from reelgate.config import Config, InstanceConfig
from reelgate.emulation import serve
from reelgate.postgres import PostgresJobIndex
from reelgate.server import create_app

KEY = "sk-server-key-PG-0123456789"
OTHER_KEY = "sk-server-key-PG-9876543210"


def _server_app(url: str) -> Starlette:
    config = Config(
        instances=(InstanceConfig(name="sim", type="sim", settings={"duration": 0}),),
        default_instances=False,
    )
    gateway = Gateway(config, index=PostgresJobIndex(url, connect_timeout=1.0))
    return create_app(gateway, keys={"TEAM": KEY, "OTHER": OTHER_KEY}, close_gateway=True)


def test_two_servers_share_jobs_and_answer_503_without_the_database(
    pg_server: LocalPostgres, pg_url: str
) -> None:
    """A job made on one server is read, listed, downloaded, kept to its key, deleted on another."""
    auth = {"Authorization": f"Bearer {KEY}"}
    with (
        serve(_server_app(pg_url), lifespan=True) as one,
        serve(_server_app(pg_url), lifespan=True) as two,
    ):
        created = httpx2.post(
            f"{one}/v1/videos",
            json={"model": "sim/sim-1", "prompt": "a paper boat"},
            headers=auth,
        )
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]
        assert httpx2.get(f"{two}/v1/videos/{video_id}", headers=auth).status_code == 200
        listed = httpx2.get(f"{two}/v1/videos?provider=sim", headers=auth).json()
        assert [v["id"] for v in listed["data"]] == [video_id]
        content = httpx2.get(f"{two}/v1/videos/{video_id}/content", headers=auth)
        assert content.status_code == 200, content.text
        assert content.content[4:8] == b"ftyp"
        other = {"Authorization": f"Bearer {OTHER_KEY}"}
        assert httpx2.get(f"{two}/v1/videos/{video_id}", headers=other).status_code == 404
        assert httpx2.get(f"{two}/v1/videos?provider=sim", headers=other).json()["data"] == []

        pg_server.stop()
        try:
            down = httpx2.get(f"{two}/v1/videos/{video_id}", headers=auth, timeout=30)
            assert down.status_code == 503, down.text
            assert down.json()["error"]["type"] == "index_unavailable"
            assert pg_server.password not in down.text
        finally:
            pg_server.start()
        deadline = time.monotonic() + 30
        while (
            back := httpx2.get(f"{two}/v1/videos/{video_id}", headers=auth, timeout=30)
        ).status_code == 503:
            assert time.monotonic() < deadline, "the server did not recover"
            time.sleep(0.2)
        assert back.status_code == 200, back.text

        assert httpx2.delete(f"{one}/v1/videos/{video_id}", headers=auth).status_code == 200
        assert httpx2.get(f"{two}/v1/videos/{video_id}", headers=auth).status_code == 404
        assert httpx2.get(f"{two}/v1/videos?provider=sim", headers=auth).json()["data"] == []


@pytest.fixture(autouse=True)
def _sim_plugin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the simulator loads: the servers need nothing else."""
    monkeypatch.setenv("REELGATE_PLUGINS", "sim")
