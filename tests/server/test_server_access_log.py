"""The access log of reelgate serve: one cheap line per request, with fields, never a key."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import pytest
from server_support import sim_gateway

import reelgate.server
from reelgate.config import Secret
from reelgate.server import AccessLog, create_app, run, serve_app

pytestmark = pytest.mark.anyio

KEY = "sk-access-log-test-0123456789"


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> str:
    return "asyncio"


async def test_one_line_per_request_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    """Each request is one line: method, raw path, status, time, client and key name."""
    app = AccessLog(create_app(sim_gateway(), keys=[Secret(KEY, name="TEAM_A")]))
    transport = httpx2.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {KEY}"}
    with caplog.at_level(logging.INFO, logger="reelgate.server.access"):
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            created = await client.post(
                "/v1/videos", json={"model": "sim/sim-1", "prompt": "p"}, headers=headers
            )
            video_id = created.json()["id"]
            await client.get(f"/v1/videos/{video_id}", headers=headers)
            await client.get("/v1/videos?provider=sim&limit=2", headers=headers)
            await client.get("/v1/videos/nope:sim")
            await client.get("/no/such/route")
    records = [r for r in caplog.records if r.name == "reelgate.server.access"]
    assert [(r.method, r.status) for r in records] == [  # type: ignore[attr-defined]
        ("POST", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 401),
        ("GET", 404),
    ]
    first = records[1]
    assert first.path == f"/v1/videos/{video_id}"  # type: ignore[attr-defined]
    assert first.key == "TEAM_A"  # type: ignore[attr-defined]
    assert first.duration_ms >= 0  # type: ignore[attr-defined]
    assert first.getMessage().startswith(f"GET /v1/videos/{video_id} 200 ")
    assert "key=TEAM_A" in first.getMessage()
    assert records[2].path == "/v1/videos?provider=sim&limit=2"  # type: ignore[attr-defined]
    assert records[3].key == "-"  # type: ignore[attr-defined]
    assert all(KEY not in r.getMessage() for r in records)


async def test_a_failing_app_is_logged_as_500(caplog: pytest.LogCaptureFixture) -> None:
    """A request whose app raises is still logged, as a 500."""

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with (
        caplog.at_level(logging.INFO, logger="reelgate.server.access"),
        pytest.raises(RuntimeError),
    ):
        await AccessLog(broken)(
            {"type": "http", "method": "GET", "path": "/x", "raw_path": b"/x"},
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
        )
    (record,) = [r for r in caplog.records if r.name == "reelgate.server.access"]
    assert (record.status, record.client) == (500, "-")  # type: ignore[attr-defined]


async def test_off_above_info(caplog: pytest.LogCaptureFixture) -> None:
    """At log level warning nothing is written, and nothing is measured."""
    app = AccessLog(create_app(sim_gateway(), keys={}))
    transport = httpx2.ASGITransport(app=app)
    with caplog.at_level(logging.WARNING, logger="reelgate.server.access"):
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            assert (await client.get("/health")).status_code == 200
    assert not [r for r in caplog.records if r.name == "reelgate.server.access"]


def test_run_serves_with_the_access_log_and_uvicorns_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """reelgate serve wraps its app in AccessLog, and turns uvicorn's own access log off."""
    seen: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        seen.update(options, app=app)

    import uvicorn  # noqa: PLC0415  # patched where run imports it

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("REELGATE_STATE_DIR", str(tmp_path))
    config = tmp_path / "reelgate.toml"
    config.write_text('[index]\nkind = "memory"\n[gateway]\ndefault_instances = false\n')
    run(config_path=config, keys={}, log_level="info")
    assert isinstance(seen["app"], AccessLog)
    assert seen["access_log"] is False
    access = seen["log_config"]["loggers"]["reelgate.server.access"]
    assert (access["level"], access["propagate"]) == ("INFO", False)
    starlette_app = seen["app"].app
    serve_app(starlette_app, host="127.0.0.1", port=1, log_level="warning")
    assert seen["log_config"]["loggers"]["reelgate.server.access"]["level"] == "WARNING"
    assert reelgate.server.serve_app is serve_app
    anyio.run(starlette_app.state.gateway.aclose)
