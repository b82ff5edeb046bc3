"""Emulation: scripted faults, in-process through emulator_transport and over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate.config import RetryPolicy, Secret, Timeouts
from reelgate.emulation import (
    FAIL,
    FILTER,
    SLOW,
    Fault,
    FaultMiddleware,
    Faults,
    JobTimeline,
    Phase,
    Refusal,
    SeenRequest,
    asset_origin,
    directives,
    main,
    serve,
)
from reelgate.errors import ProviderError, ProviderTimeoutError, RateLimitError, ReelgateError
from reelgate.http import Upstream, emulator_transport, make_client
from reelgate.media import content_type, sample
from reelgate.model import Variant
from reelgate.provider import Call

pytestmark = pytest.mark.anyio

BODY = bytes(range(256)) * 64
CALL = Call(instance="emu", operation="retrieve", key=Secret("sk-emu-0123456789"))
CREATE = Call(instance="emu", operation="create", key=Secret("sk-emu-0123456789"))
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)


def _app(faults: Faults | None = None, **kwargs: Any) -> FaultMiddleware:
    async def create(request: Request) -> JSONResponse:
        return JSONResponse({"id": "job-1", "state": "pending"}, status_code=201)

    async def job(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "state": "done"})

    async def content(request: Request) -> Response:
        return Response(BODY, media_type="video/mp4")

    async def refuse(request: Request) -> Response:
        raise Refusal(409, "not yet", code="not_ready", headers={"retry-after": "3"})

    routes = [
        Route("/v1/jobs", create, methods=["POST"]),
        Route("/v1/jobs/{id}", job),
        Route("/v1/jobs/{id}/content", content),
        Route("/v1/refuse", refuse),
    ]
    return FaultMiddleware(Starlette(routes=routes), faults, **kwargs)


# -- the fault script --------------------------------------------------------------------


def test_faults_match_method_and_path() -> None:
    """A fault applies to its method (any case) and to paths its pattern finds."""
    fault = Fault(status=500, method="get", path=r"/jobs/[^/]+$")
    assert fault.matches("GET", "/v1/jobs/1")
    assert not fault.matches("POST", "/v1/jobs/1")
    assert not fault.matches("GET", "/v1/jobs/1/content")
    assert Fault().matches("DELETE", "/anything")


def test_faults_apply_in_order_and_wear_out() -> None:
    """The first matching fault wins; each applies `times` times, then is gone."""
    faults = Faults()
    first = faults.add(Fault(status=500, times=2))
    second = faults.add(Fault(status=503))
    only_post = faults.add(Fault(status=429, method="POST"))
    assert [faults.take("GET", "/x") for _ in range(4)] == [first, first, second, None]
    assert faults.take("POST", "/x") is only_post
    assert faults.take("POST", "/x") is None


def test_a_fault_for_other_requests_waits_its_turn() -> None:
    """A fault that does not match is skipped and stays for a later request."""
    faults = Faults()
    posting = faults.add(Fault(status=500, method="POST"))
    assert faults.take("GET", "/x") is None
    assert faults.take("POST", "/x") is posting


async def test_requests_are_seen_and_counted() -> None:
    """The middleware records every request: method, path, query and headers."""
    app = _app()
    async with make_client(transport=emulator_transport(app)) as client:
        await client.get("http://emu.test/v1/jobs/1?x=1", headers={"Authorization": "Bearer k"})
        await client.post("http://emu.test/v1/jobs", json={})
        await client.get("http://emu.test/v1/jobs/1/content")
    faults = app.faults
    assert faults.count() == 3
    assert faults.count("get") == 2
    assert faults.count("GET", r"/content$") == 1
    first = faults.seen[0]
    assert (first.method, first.path, first.query) == ("GET", "/v1/jobs/1", "x=1")
    assert first.headers["authorization"] == "Bearer k"
    faults.add(Fault(status=500))
    faults.clear()
    assert faults.count() == 0
    assert faults.take("GET", "/") is None


def test_directives_are_read_from_prompts() -> None:
    """Prompt directives name themselves; prompts without any have none."""
    assert directives(f"a boat {FAIL} {SLOW}") == {"fail", "slow"}
    assert directives(f"{FILTER}") == {"filter"}
    assert directives("a boat [emulate:] [EMULATE:FAIL]") == frozenset()
    assert directives(None) == frozenset()


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_timeline_queues_runs_and_ends() -> None:
    """A job is queued, then runs with rising progress, then succeeds at its end."""
    clock = Clock()
    timeline = JobTimeline.start("a boat", seconds=10, clock=clock)
    assert timeline.now() == Phase("queued", 0)
    seen = []
    for _ in range(12):
        clock.now += 1
        seen.append(timeline.now())
    running = [p.progress for p in seen if p.stage == "running"]
    assert running == sorted(running)
    assert 0 < running[0] < running[-1] < 100
    assert seen[-1] == Phase("succeeded", 100, 1010.0)
    assert seen[-1].done
    assert not seen[0].done


@pytest.mark.parametrize(
    ("prompt", "stage", "seconds"),
    [(f"x {FAIL}", "failed", 10), (f"x {FILTER}", "filtered", 10), (f"x {SLOW}", "running", 60)],
)
def test_directives_choose_how_a_timeline_goes(prompt: str, stage: str, seconds: float) -> None:
    """FAIL fails the job, FILTER filters it, SLOW makes it take a minute."""
    clock = Clock()
    timeline = JobTimeline.start(prompt, seconds=10, clock=clock, slow_seconds=60)
    assert timeline.seconds == seconds
    clock.now += 30
    assert timeline.now().stage == stage


def test_a_cancelled_timeline_stays_cancelled() -> None:
    """Cancel stops a running job where it was; a finished job cannot be cancelled."""
    clock = Clock()
    timeline = JobTimeline.start("x", seconds=10, clock=clock)
    clock.now += 5
    assert timeline.cancel() is True
    stopped = timeline.now()
    assert (stopped.stage, stopped.finished_at) == ("cancelled", 1005.0)
    clock.now += 60
    assert timeline.now() == stopped
    done = JobTimeline.start("x", seconds=1, clock=clock)
    clock.now += 2
    assert done.cancel() is False
    assert done.now().stage == "succeeded"


def test_asset_origin_names_the_same_server_otherwise() -> None:
    """Loopback names swap; other hosts gain an assets. prefix; the port stays."""
    assert asset_origin("http://127.0.0.1:8099/") == "http://localhost:8099"
    assert asset_origin("http://localhost:8099") == "http://127.0.0.1:8099"
    assert asset_origin("http://emulator.test/v1") == "http://assets.emulator.test"
    assert asset_origin("https://assets.emulator.test") == "https://assets.emulator.test"


def test_seen_requests_answer_where_and_with_what() -> None:
    """A seen request knows its host, its query parameters and whether it carried a key."""
    seen = SeenRequest("GET", "/v1/jobs/1", "key=sk-1&x=2", {"host": "emulator.test:80"})
    assert seen.host == "emulator.test"
    assert seen.params == {"key": "sk-1", "x": "2"}
    assert seen.carries("sk-1")
    assert not seen.carries("sk-2")
    assert SeenRequest("GET", "/", "", {"authorization": "Bearer sk-2"}).carries("sk-2")
    assert seen.matches("get", r"/jobs/")
    assert not seen.matches("POST")


def test_sample_media_is_real() -> None:
    """The sample media are an MP4, a WebP and a JPEG, with their media types."""
    assert sample()[4:8] == b"ftyp"
    assert sample(Variant.THUMBNAIL)[8:12] == b"WEBP"
    assert sample(Variant.SPRITESHEET)[:2] == b"\xff\xd8"
    assert content_type() == "video/mp4"
    assert content_type(Variant.SPRITESHEET) == "image/jpeg"


async def test_recordings_collect_one_block_and_filter_by_host() -> None:
    """A recording holds the requests of its block; requests() filters by host and key."""
    app = _app()
    async with make_client(transport=emulator_transport(app)) as client:
        await client.get("http://emu.test/v1/jobs/1")
        with app.faults.recording() as seen:
            await client.get("http://assets.emu.test/v1/jobs/2", headers={"x-key": "sk-9"})
            app.faults.clear()
            await client.get("http://emu.test/v1/jobs/3")
        await client.get("http://emu.test/v1/jobs/4")
    assert [r.path for r in seen] == ["/v1/jobs/2", "/v1/jobs/3"]
    assert [r.path for r in app.faults.requests(host="emu.test")] == ["/v1/jobs/3", "/v1/jobs/4"]
    assert [r.host for r in seen] == ["assets.emu.test", "emu.test"]
    assert app.faults.carrying("sk-9") == []
    assert [r.path for r in seen if r.carries("sk-9")] == ["/v1/jobs/2"]


async def test_a_refusal_is_answered_with_the_error_body() -> None:
    """A route's Refusal becomes its status, headers and the emulator's error body."""
    app = _app(refusal_body=lambda r: json.dumps({"code": r.code, "msg": r.message}).encode())
    async with make_client(transport=emulator_transport(app)) as client:
        response = await client.get("http://emu.test/v1/refuse")
    assert response.status_code == 409
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"code": "not_ready", "msg": "not yet"}


async def test_a_refusal_from_a_plain_asgi_app() -> None:
    """An app that is not Starlette may let a Refusal propagate to the middleware."""

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        raise Refusal(404, "no such job")

    app = FaultMiddleware(plain)
    async with make_client(transport=emulator_transport(app)) as client:
        response = await client.get("http://emu.test/v1/jobs/9")
    assert response.status_code == 404
    assert response.json() == {"error": {"message": "no such job", "code": 404}}


def test_serve_stops_quickly() -> None:
    """Leaving serve's block stops the server in well under a second."""
    app = _app()
    with serve(app):
        pass  # the first start imports uvicorn
    with serve(app):
        entered = time.perf_counter()
    assert time.perf_counter() - entered < 0.5


# -- faults in-process ---------------------------------------------------------------------


@pytest.fixture(name="inproc")
async def _inproc() -> AsyncIterator[tuple[Upstream, Faults]]:
    """An Upstream talking to the emulator app in-process."""
    app = _app(error_body=lambda status, message: json.dumps({"error": message}).encode())
    async with make_client(transport=emulator_transport(app)) as client:
        yield (
            Upstream(client=client, base_url="http://emu.test", instance="emu", retry=FAST),
            (app.faults),
        )


async def test_status_faults_answer_with_the_error_body(inproc) -> None:
    """A status fault answers with that status, its headers and the emulator's body."""
    up, faults = inproc
    faults.add(Fault(status=429, message="slow down", headers={"retry-after": "90"}))
    with pytest.raises(RateLimitError, match="slow down") as e:
        await up.request("GET", "/v1/jobs/1", call=CALL, idempotent=True)
    assert e.value.retry_after == 90
    assert e.value.raw_response == {"error": "slow down"}
    assert faults.count() == 1


async def test_faults_then_recovery(inproc) -> None:
    """After the scripted faults are used up, the emulator answers normally."""
    up, faults = inproc
    faults.add(Fault(status=503, times=2))
    assert await up.json("GET", "/v1/jobs/7", call=CALL, idempotent=True) == {
        "id": "7",
        "state": "done",
    }
    assert faults.count() == 3


async def test_a_delay_past_the_read_timeout_is_a_timeout(inproc) -> None:
    """A delayed answer beyond the client's read timeout is a ProviderTimeoutError."""
    up, faults = inproc
    faults.add(Fault(delay=30.0, times=5))
    slow = Upstream(
        client=up.client,
        base_url=up.base_url,
        instance="emu",
        retry=RetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0),
        timeouts=Timeouts(read=0.05),
    )
    with pytest.raises(ProviderTimeoutError) as e:
        await slow.request("GET", "/v1/jobs/1", call=CALL, idempotent=True)
    assert e.value.status_code == 504
    assert faults.count() == 2


async def test_a_drop_is_a_dropped_connection(inproc) -> None:
    """A dropped connection is retried for a read and never for a create."""
    up, faults = inproc
    faults.add(Fault(drop=True, method="GET"))
    assert (await up.request("GET", "/v1/jobs/1", call=CALL, idempotent=True)).status == 200
    faults.add(Fault(drop=True, method="POST"))
    with pytest.raises(ProviderError) as e:
        await up.request("POST", "/v1/jobs", call=CREATE, idempotent=False)
    assert e.value.ambiguous is True
    assert faults.count("POST") == 1


async def test_a_malformed_body_is_a_provider_error(inproc) -> None:
    """A 200 whose body is not JSON is a ProviderError once the tries run out."""
    up, faults = inproc
    faults.add(Fault(malformed=True, times=5))
    with pytest.raises(ProviderError, match="malformed JSON"):
        await up.json("GET", "/v1/jobs/1", call=CALL, idempotent=True)
    assert faults.count() == FAST.attempts


async def test_a_truncated_download_is_a_provider_error(inproc) -> None:
    """A body cut after N bytes arrives short of its length: ProviderError."""
    up, faults = inproc
    faults.add(Fault(truncate=1000, path="/content"))
    async with up.stream("/v1/jobs/1/content", call=CALL) as stream:
        assert stream.content_length == len(BODY)
        with pytest.raises(ProviderError, match="cut off after 1000 of"):
            await stream.read()
    async with up.stream("/v1/jobs/1/content", call=CALL) as stream:
        assert await stream.read() == BODY


# -- faults over real HTTP -----------------------------------------------------------------


@pytest.fixture(name="served", scope="module")
def _served() -> Iterator[tuple[FaultMiddleware, str]]:
    """One emulator on loopback for this module's real-HTTP tests."""
    app = _app()
    with serve(app) as url:
        yield app, url


@pytest.fixture(name="over_http")
async def _over_http(served) -> AsyncIterator[tuple[Upstream, Faults]]:
    """An Upstream talking to the served emulator, with a clean fault script."""
    app, url = served
    app.faults.clear()
    async with make_client() as client:
        yield Upstream(client=client, base_url=url, instance="emu", retry=FAST), app.faults
    app.faults.clear()


async def test_serve_answers_on_loopback(served, over_http) -> None:
    """serve runs the emulator on 127.0.0.1 and it answers real requests."""
    _, url = served
    up, faults = over_http
    assert url.startswith("http://127.0.0.1:")
    assert await up.json("POST", "/v1/jobs", call=CREATE, idempotent=False) == {
        "id": "job-1",
        "state": "pending",
    }
    assert faults.seen[0].headers["authorization"] == "Bearer sk-emu-0123456789"


async def test_status_and_retry_after_over_http(over_http) -> None:
    """A 429 with retry-after-ms is waited out and retried over a real socket."""
    up, faults = over_http
    faults.add(Fault(status=429, headers={"retry-after-ms": "5"}, method="POST"))
    await up.request("POST", "/v1/jobs", call=CREATE, idempotent=False)
    assert faults.count("POST") == 2


async def test_a_drop_over_http(over_http) -> None:
    """A dropped connection over a real socket is a ProviderError for a create."""
    up, faults = over_http
    faults.add(Fault(drop=True, method="POST"))
    with pytest.raises(ProviderError) as e:
        await up.request("POST", "/v1/jobs", call=CREATE, idempotent=False)
    assert e.value.ambiguous is True
    assert faults.count("POST") == 1


async def test_malformed_and_truncated_over_http(over_http) -> None:
    """Malformed JSON and a truncated download are ProviderErrors over a real socket."""
    up, faults = over_http
    faults.add(Fault(malformed=True, times=3))
    with pytest.raises(ProviderError, match="malformed"):
        await up.json("GET", "/v1/jobs/1", call=CALL, idempotent=True)
    faults.add(Fault(truncate=1000, path="/content", times=3))
    with pytest.raises(ReelgateError) as e:
        async with up.stream("/v1/jobs/1/content", call=CALL) as stream:
            await stream.read()
    assert isinstance(e.value, ProviderError)


def test_main_serves_the_app_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m <plugin>.emulator --port N` runs the app on that port."""
    served: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        served.update(app=app, **kwargs)

    monkeypatch.setattr("uvicorn.run", fake_run)
    app = _app()
    main(lambda: app, description="test emulator", default_port=8099, argv=["--port", "9123"])
    assert served["app"] is app
    assert (served["host"], served["port"]) == ("127.0.0.1", 9123)
    main(lambda: app, description="test emulator", default_port=8099, argv=[])
    assert served["port"] == 8099


def test_main_offers_job_seconds_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--job-seconds`` reaches the factory; without a default the option does not exist."""
    import uvicorn  # noqa: PLC0415  # patched below

    from reelgate.emulation import main  # noqa: PLC0415

    served: list[tuple[object, int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append((app, kw["port"])))
    made: list[dict[str, float]] = []

    def factory(**kwargs: float) -> str:
        made.append(kwargs)
        return "app"

    main(factory, description="d", default_port=1, argv=["--job-seconds", "0.5"], job_seconds=2)
    main(factory, description="d", default_port=1, argv=["--port", "9"])
    assert made == [{"job_seconds": 0.5}, {}]
    assert served == [("app", 1), ("app", 9)]
    with pytest.raises(SystemExit):
        main(factory, description="d", default_port=1, argv=["--job-seconds", "1"])
