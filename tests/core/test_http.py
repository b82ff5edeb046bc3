"""Upstream requests: retries where safe, waits as told, errors mapped, secrets scrubbed."""

from __future__ import annotations

import ast
import email.utils
import json
import logging
import math
import pathlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import attrs
import httpx2
import pytest
import stamina.instrumentation

import reelgate
from reelgate.config import RetryPolicy, Secret, Timeouts
from reelgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
)
from reelgate.http import (
    Upstream,
    UpstreamError,
    bearer,
    error_for_status,
    make_client,
    observe_upstream,
    parse_retry_after,
    scrub,
)
from reelgate.provider import Call

pytestmark = pytest.mark.anyio

KEY = "sk-acme-test-0123456789abcdef"
CALL = Call(instance="acme", operation="retrieve", key=Secret(KEY, name="ACME_KEY"))
CREATE = Call(instance="acme", operation="create", key=Secret(KEY, name="ACME_KEY"))
FAST = RetryPolicy(attempts=3, timeout=30.0, wait_initial=0.001, wait_max=0.004, wait_jitter=0.0)

Step = httpx2.Response | BaseException | type[Exception] | Callable[[httpx2.Request], Any]


class Script:
    """A MockTransport handler answering with scripted steps; the last step repeats."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step(f"scripted {step.__name__}", request=request)  # type: ignore[call-arg]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx2.Response):
            return step
        return step(request)  # type: ignore[no-any-return]


def _json(status: int, body: Any = None, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, json=body if body is not None else {"ok": True}, headers=headers)


@pytest.fixture(name="upstream")
async def _upstream() -> AsyncIterator[Callable[..., tuple[Upstream, Script]]]:
    """`upstream(*steps, retry=FAST)`: an Upstream over a scripted MockTransport."""
    clients: list[httpx2.AsyncClient] = []

    def make(*steps: Step, retry: RetryPolicy = FAST, **kwargs: Any) -> tuple[Upstream, Script]:
        script = Script(*steps)
        client = make_client(transport=httpx2.MockTransport(script))
        clients.append(client)
        kwargs.setdefault("base_url", "https://api.acme.test/v1")
        return Upstream(client=client, instance="acme", retry=retry, **kwargs), script

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(name="waits")
def _waits() -> Iterator[list[float]]:
    """The backoff of every scheduled retry, as stamina reports it (no clock involved)."""
    waits: list[float] = []
    saved = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    yield waits
    stamina.instrumentation.set_on_retry_hooks(saved)


# -- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_idempotent_requests_are_retried(upstream, waits, status: int) -> None:
    """A read that gets a 429 or 5xx is tried again and succeeds."""
    up, script = upstream(_json(status, {"error": {"message": "busy"}}), _json(200))
    reply = await up.request("GET", "/videos/1", call=CALL, idempotent=True)
    assert reply.status == 200
    assert len(script.requests) == 2
    assert len(waits) == 1


async def test_retry_after_ms_is_honoured(upstream, waits) -> None:
    """retry-after-ms decides the wait, over Retry-After and over the backoff."""
    up, script = upstream(
        _json(429, **{"retry-after-ms": "30", "retry-after": "9"}),
        _json(503, **{"retry-after": "0.02"}),
        _json(200),
    )
    await up.request("GET", "/videos/1", call=CALL, idempotent=True)
    assert waits == [pytest.approx(0.03), pytest.approx(0.02)]
    assert len(script.requests) == 3


async def test_backoff_is_exponential_and_capped(upstream, waits) -> None:
    """Without a hint, waits double from wait_initial up to wait_max."""
    retry = RetryPolicy(attempts=5, timeout=30.0, wait_initial=0.001, wait_max=0.004, wait_jitter=0)
    up, _ = upstream(_json(503), _json(503), _json(503), _json(503), _json(200), retry=retry)
    await up.request("GET", "/x", call=CALL, idempotent=True)
    assert waits == pytest.approx([0.001, 0.002, 0.004, 0.004])


async def test_attempts_are_bounded(upstream, waits) -> None:
    """A 5xx that persists is tried `attempts` times, then raised as a ProviderError."""
    up, script = upstream(_json(503, {"error": {"message": "overloaded"}}))
    with pytest.raises(ProviderError, match="overloaded") as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.status_code == 502
    assert len(script.requests) == FAST.attempts
    assert len(waits) == FAST.attempts - 1


async def test_total_time_is_bounded(upstream) -> None:
    """Once the policy's total time is spent, no further try is made."""
    retry = RetryPolicy(attempts=10, timeout=1e-9, wait_initial=0.001, wait_jitter=0)
    up, script = upstream(_json(503), _json(200), retry=retry)
    with pytest.raises(ProviderError):
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert len(script.requests) == 1


async def test_one_attempt_means_no_retry(upstream) -> None:
    """attempts = 1 disables retries."""
    up, script = upstream(_json(429), _json(200), retry=RetryPolicy(attempts=1))
    with pytest.raises(RateLimitError):
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert len(script.requests) == 1


async def test_a_long_retry_after_is_not_waited_for(upstream, waits) -> None:
    """A Retry-After above max_retry_after is raised at once, carrying the delay."""
    retry = RetryPolicy(attempts=5, max_retry_after=60.0, wait_initial=0.001, wait_jitter=0)
    up, script = upstream(_json(429, **{"retry-after": "120"}), _json(200), retry=retry)
    with pytest.raises(RateLimitError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.retry_after == 120
    assert e.value.status_code == 429
    assert len(script.requests) == 1
    assert waits == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_create_is_never_retried_after_a_5xx(upstream, status: int) -> None:
    """A non-idempotent request answered 5xx may have been acted on: raised, ambiguous."""
    up, script = upstream(_json(status), _json(200))
    with pytest.raises(ProviderError) as e:
        await up.request("POST", "/videos", call=CREATE, idempotent=False, json={"p": 1})
    assert e.value.ambiguous is True
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.RemoteProtocolError, httpx2.ReadError],
)
async def test_a_create_is_never_retried_after_a_timeout_or_drop(
    upstream, failure: type[Exception]
) -> None:
    """A create whose request may have arrived is not sent again."""
    up, script = upstream(failure, _json(200))
    with pytest.raises(ProviderError) as e:
        await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert e.value.ambiguous is True
    assert e.value.provider == "acme"
    assert e.value.request_type == "video_generation"
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "failure", [httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout]
)
async def test_a_create_is_retried_when_it_never_left(upstream, failure: type[Exception]) -> None:
    """A connection that could not be opened sent nothing: even a create is retried."""
    up, script = upstream(failure, _json(200))
    reply = await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert reply.status == 200
    assert len(script.requests) == 2


async def test_a_create_is_retried_after_a_rate_limit(upstream, waits) -> None:
    """A 429 is an explicit refusal: the create is retried after the asked delay."""
    up, script = upstream(_json(429, **{"retry-after-ms": "5"}), _json(200))
    await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert len(script.requests) == 2
    assert waits == [pytest.approx(0.005)]


async def test_never_sent_failures_are_not_ambiguous(upstream) -> None:
    """A connect failure that outlasts the retries says the request never arrived."""
    up, script = upstream(httpx2.ConnectError)
    with pytest.raises(ProviderError, match="could not connect") as e:
        await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert e.value.ambiguous is False
    assert len(script.requests) == FAST.attempts


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx2.ReadTimeout, ProviderTimeoutError),
        (httpx2.ConnectTimeout, ProviderTimeoutError),
        (httpx2.RemoteProtocolError, ProviderError),
        (httpx2.ReadError, ProviderError),
    ],
)
async def test_reads_are_retried_after_transport_failures(
    upstream, failure: type[Exception], error: type[ReelgateError]
) -> None:
    """Timeouts and dropped connections on a read are retried, then mapped."""
    up, script = upstream(failure, _json(200))
    assert (await up.request("GET", "/x", call=CALL, idempotent=True)).status == 200
    up, script = upstream(failure)
    with pytest.raises(error):
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert len(script.requests) == FAST.attempts


async def test_a_parser_can_stop_retries(upstream, waits) -> None:
    """A retrieve answered 500 that the parser marks not retryable makes one request."""

    def parse(reply: Any) -> UpstreamError:
        return UpstreamError(message="the job failed", retryable=False)

    up, script = upstream(_json(500), _json(200), parse_error=parse)
    with pytest.raises(ProviderError, match="the job failed") as e:
        await up.request("GET", "/videos/1", call=CALL, idempotent=True)
    assert len(script.requests) == 1
    assert waits == []
    assert e.value.status_code == 502


async def test_a_parser_can_stop_retries_of_a_rate_limit(upstream) -> None:
    """retryable=False wins over the core's rule for 429 too."""
    up, script = upstream(
        _json(429), _json(200), parse_error=lambda r: UpstreamError(message="q", retryable=False)
    )
    with pytest.raises(RateLimitError):
        await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert len(script.requests) == 1


async def test_a_parser_can_make_a_read_retryable(upstream, waits) -> None:
    """retryable=True retries an idempotent request whatever its status."""
    up, script = upstream(
        _json(409),
        _json(200),
        parse_error=lambda r: UpstreamError(message="busy", retryable=True),
    )
    assert (await up.request("GET", "/videos/1", call=CALL, idempotent=True)).status == 200
    assert len(script.requests) == 2
    assert len(waits) == 1


@pytest.mark.parametrize("status", [409, 500, 503])
async def test_retryable_never_resends_a_create(upstream, status: int) -> None:
    """retryable=True does not make a create sent again: it may have been accepted."""
    up, script = upstream(
        _json(status),
        _json(200),
        parse_error=lambda r: UpstreamError(message="again?", retryable=True),
    )
    with pytest.raises(ReelgateError):
        await up.request("POST", "/videos", call=CREATE, idempotent=False)
    assert len(script.requests) == 1


async def test_retried_errors_carry_no_hidden_state(upstream) -> None:
    """The error raised after the retries is the mapped error itself, nothing attached."""
    up, _ = upstream(_json(503, {"error": {"message": "overloaded"}}))
    with pytest.raises(ProviderError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert type(e.value) is ProviderError
    assert not [name for name in vars(e.value) if "retry" in name]
    assert e.value.__cause__ is None
    assert e.value.__suppress_context__ is True


@pytest.mark.parametrize(
    "retry_after", ["inf", "-inf", "nan", "-1", "1e400", "soon", "Wed, 99 Foo 2015 07:28:00 GMT"]
)
async def test_an_unusable_retry_after_is_raised_at_once(upstream, waits, retry_after: str) -> None:
    """A Retry-After no wait can honour is too long: a 429 at once, with no retry_after."""
    retry = RetryPolicy(attempts=5, wait_initial=0.001, wait_jitter=0)
    up, script = upstream(_json(429, **{"retry-after": retry_after}), _json(200), retry=retry)
    with pytest.raises(RateLimitError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert len(script.requests) == 1
    assert waits == []
    assert e.value.retry_after is None
    assert e.value.status_code == 429


async def test_a_huge_retry_after_is_raised_at_once(upstream, waits) -> None:
    """A finite but huge Retry-After is kept on the error and never waited for."""
    up, script = upstream(_json(429, **{"retry-after": "1e300"}), _json(200))
    with pytest.raises(RateLimitError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.retry_after == 1e300
    assert len(script.requests) == 1
    up, script = upstream(_json(503, **{"retry-after": "inf"}), _json(200))
    with pytest.raises(ProviderError):
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert len(script.requests) == 1
    assert waits == []


@pytest.mark.parametrize("delay", [math.inf, math.nan, -5.0])
async def test_a_parser_retry_after_that_cannot_be_used(upstream, delay: float) -> None:
    """A parser's inf, nan or negative delay is too long too, and never reaches the error."""
    up, script = upstream(
        _json(429), _json(200), parse_error=lambda r: UpstreamError(message="q", retry_after=delay)
    )
    with pytest.raises(RateLimitError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.retry_after is None
    assert len(script.requests) == 1


# -- deadline -------------------------------------------------------------------------------


class _Trickle(httpx2.AsyncByteStream):
    """A body sending one byte every `gap` seconds, for ever."""

    def __init__(self, gap: float) -> None:
        self.gap = gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await anyio.sleep(self.gap)
            yield b" "


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_trickling_upstream_meets_the_deadline(upstream, idempotent: bool) -> None:
    """Bytes arriving within the read timeout cannot hold a call past Timeouts.total."""
    timeouts = Timeouts(read=5.0, total=0.3)
    up, script = upstream(httpx2.Response(200, stream=_Trickle(0.02)), timeouts=timeouts)
    started = time.monotonic()
    with anyio.fail_after(5), pytest.raises(ProviderTimeoutError, match=r"more than 0\.3 s") as e:
        await up.json("GET", "/x", call=CALL, idempotent=idempotent)
    assert time.monotonic() - started < 3
    assert e.value.ambiguous is True
    assert (e.value.provider, e.value.request_type) == ("acme", "video_retrieve")
    assert len(script.requests) == 1


async def test_the_deadline_covers_the_retries(upstream) -> None:
    """Waits between tries count towards Timeouts.total."""
    retry = RetryPolicy(attempts=10, timeout=60, wait_initial=0.2, wait_max=0.2, wait_jitter=0)
    up, script = upstream(_json(503), retry=retry, timeouts=Timeouts(total=0.5))
    with pytest.raises(ProviderTimeoutError):
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert 1 < len(script.requests) < 5


async def test_no_deadline_when_total_is_none(upstream) -> None:
    """total=None leaves the call bounded by the phase timeouts only."""

    async def slow(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep(0.05)
        return _json(200)

    up, _ = upstream(slow, timeouts=Timeouts(total=None))
    assert (await up.request("GET", "/x", call=CALL, idempotent=True)).status == 200
    up, _ = upstream(slow, timeouts=Timeouts(total=0.01))
    with pytest.raises(ProviderTimeoutError):
        await up.request("GET", "/x", call=CALL, idempotent=True)


# -- error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "http"),
    [
        (400, InvalidRequestError, 400),
        (401, AuthenticationError, 401),
        (403, PermissionDeniedError, 403),
        (404, NotFoundError, 404),
        (405, InvalidRequestError, 400),
        (408, ProviderTimeoutError, 504),
        (409, InvalidRequestError, 400),
        (410, InvalidRequestError, 400),
        (413, InvalidRequestError, 400),
        (422, InvalidRequestError, 400),
        (429, RateLimitError, 429),
        (500, ProviderError, 502),
        (501, ProviderError, 502),
        (502, ProviderError, 502),
        (503, ProviderError, 502),
        (504, ProviderTimeoutError, 504),
        (520, ProviderError, 502),
    ],
)
async def test_every_status_is_mapped(
    upstream, status: int, error: type[ReelgateError], http: int
) -> None:
    """Each upstream status becomes the matching error, with the provider's message."""
    body = {"error": {"message": f"upstream says {status}", "type": "t", "code": "c"}}
    up, _ = upstream(_json(status, body), retry=RetryPolicy(attempts=1))
    with pytest.raises(ReelgateError) as e:
        await up.request("GET", "/videos/1", call=CALL, idempotent=True)
    assert type(e.value) is error
    assert e.value.status_code == http
    assert e.value.message == f"upstream says {status}"
    assert e.value.upstream is True
    assert (e.value.provider, e.value.request_type) == ("acme", "video_retrieve")
    assert e.value.raw_response == body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"error": "plain text error"}', "plain text error"),
        (b'{"error": "", "message": "the message"}', "the message"),
        (b'{"message": "top-level message"}', "top-level message"),
        (b'{"detail": "a detail"}', "a detail"),
        (b'{"detail": "a detail", "message": "second"}', "a detail"),
        (b'{"error": {"code": 7}}', "provider answered HTTP 418"),
        (b'{"error": null, "detail": null}', "provider answered HTTP 418"),
        (b'["not", "an", "object"]', "provider answered HTTP 418"),
        (b"<html>Bad Gateway</html>", "provider answered HTTP 418"),
        (b"\xff\xfe", "provider answered HTTP 418"),
        (b"", "provider answered HTTP 418"),
    ],
)
async def test_default_error_parser(upstream, content: bytes, message: str) -> None:
    """The usual error envelopes give their message; anything else says the status."""
    up, _ = upstream(httpx2.Response(418, content=content), retry=RetryPolicy(attempts=1))
    with pytest.raises(InvalidRequestError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.message == message


async def test_default_error_parser_reads_the_openai_envelope(upstream) -> None:
    """{"error": {message, type, code, param}} gives all four; a numeric code as text."""
    body = {
        "error": {
            "message": "Invalid size",
            "type": "invalid_request_error",
            "code": 400,
            "param": "size",
        }
    }
    up, _ = upstream(_json(400, body), retry=RetryPolicy(attempts=1))
    with pytest.raises(InvalidRequestError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert (e.value.message, e.value.type, e.value.code, e.value.param) == (
        "Invalid size",
        "invalid_request_error",
        "400",
        "size",
    )


async def test_default_error_parser_takes_googles_status_as_the_type(upstream) -> None:
    """Google's envelope names its type "status"."""
    body = {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    up, _ = upstream(_json(400, body), retry=RetryPolicy(attempts=1))
    with pytest.raises(InvalidRequestError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert (e.value.type, e.value.code) == ("INVALID_ARGUMENT", "400")


async def test_default_error_parser_reads_fastapi_validation_errors(upstream) -> None:
    """FastAPI's list of {loc, msg} becomes one message; the first field is the param."""
    body = {
        "detail": [
            {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "input", 0, "url"], "msg": "Invalid URL"},
            {"msg": "Something else"},
            "bare text",
        ]
    }
    up, _ = upstream(_json(422, body), retry=RetryPolicy(attempts=1))
    with pytest.raises(InvalidRequestError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert e.value.message == (
        "prompt: Field required; input.0.url: Invalid URL; Something else; bare text"
    )
    assert e.value.param == "prompt"


async def test_a_plugin_error_parser_is_used(upstream) -> None:
    """A plugin's parser supplies message, type, code, param and the retry delay."""

    def parse(reply: Any) -> UpstreamError:
        return UpstreamError(message="quota", type="rate", code="q1", param="p", retry_after=500)

    up, script = upstream(_json(429), parse_error=parse)
    with pytest.raises(RateLimitError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True)
    assert (e.value.message, e.value.type, e.value.code, e.value.param) == (
        "quota",
        "rate",
        "q1",
        "p",
    )
    assert e.value.retry_after == 500
    assert len(script.requests) == 1


def test_error_for_status_marks_only_5xx_ambiguous() -> None:
    """Asked to, error_for_status marks server errors ambiguous, never client errors."""
    detail = UpstreamError(message="m")
    assert error_for_status(500, detail, ambiguous=True).ambiguous is True
    assert error_for_status(400, detail, ambiguous=True).ambiguous is False
    assert error_for_status(500, detail).ambiguous is False
    assert error_for_status(404, detail).provider is None


STRAY_EXCEPTIONS = [
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.ReadTimeout,
    httpx2.WriteTimeout,
    httpx2.PoolTimeout,
    httpx2.ReadError,
    httpx2.WriteError,
    httpx2.CloseError,
    httpx2.RemoteProtocolError,
    httpx2.LocalProtocolError,
    httpx2.ProxyError,
    httpx2.UnsupportedProtocol,
    httpx2.DecodingError,
    httpx2.TooManyRedirects,
]


@pytest.mark.parametrize("failure", STRAY_EXCEPTIONS)
@pytest.mark.parametrize("how", ["request", "json", "stream"])
async def test_no_httpx2_exception_escapes(upstream, failure: type[Exception], how: str) -> None:
    """Whatever the transport raises, the caller gets a ReelgateError."""
    up, _ = upstream(failure)

    async def attempt() -> None:
        if how == "request":
            await up.request("GET", "/x", call=CALL, idempotent=True)
        elif how == "json":
            await up.json("POST", "/x", call=CREATE, idempotent=False)
        else:
            async with up.stream("/x", call=CALL):
                pass

    with pytest.raises(Exception) as e:  # the point is which type it is
        await attempt()
    assert isinstance(e.value, ReelgateError), repr(e.value)
    assert not isinstance(e.value, httpx2.HTTPError)
    assert e.value.__cause__ is None or not isinstance(e.value.__cause__, httpx2.HTTPError)


async def test_an_invalid_base_url_is_a_reelgate_error(upstream) -> None:
    """A base URL httpx2 cannot parse is reported as a ReelgateError, not httpx2's."""
    up, _ = upstream(_json(200), base_url="http://[::1")
    with pytest.raises(ReelgateError):
        await up.request("GET", "/x", call=CALL, idempotent=True)


@pytest.mark.parametrize("base_url", ["", "ftp://files.acme.test"])
async def test_a_url_without_http_is_a_provider_error(base_url: str) -> None:
    """A relative URL with no base, or another scheme, is reported, not crashed on."""
    async with make_client() as client:
        up = Upstream(client=client, base_url=base_url, instance="acme", retry=FAST)
        with pytest.raises(ProviderError, match="invalid upstream URL"):
            await up.request("GET", "/x", call=CALL, idempotent=True)


async def test_malformed_json_is_retried_for_reads_only(upstream) -> None:
    """A body that is not JSON is a failed try: retried for reads, ambiguous for creates."""
    bad = httpx2.Response(200, content=b'{"id": "trunc')
    up, script = upstream(bad, _json(200, {"id": "v1"}))
    assert await up.json("GET", "/x", call=CALL, idempotent=True) == {"id": "v1"}
    assert len(script.requests) == 2
    up, script = upstream(bad, _json(200, {"id": "v1"}))
    with pytest.raises(ProviderError, match="malformed JSON") as e:
        await up.json("POST", "/x", call=CREATE, idempotent=False)
    assert e.value.ambiguous is True
    assert e.value.provider == "acme"
    assert len(script.requests) == 1


# -- requests as sent ---------------------------------------------------------------------


async def test_requests_carry_the_key_headers_and_params(upstream) -> None:
    """The key goes as a bearer token; None params are dropped; absolute URLs pass."""
    up, script = upstream(_json(200), headers={"X-Api-Version": "2"})
    await up.request("GET", "videos", call=CALL, idempotent=True, params={"a": 1, "b": None})
    await up.request("GET", "https://other.test/abs", call=CALL, idempotent=True)
    await up.request("GET", "/public", call=CALL, idempotent=True, authenticate=False)
    first, second, third = script.requests
    assert str(first.url) == "https://api.acme.test/v1/videos?a=1"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.headers["x-api-version"] == "2"
    assert str(second.url) == "https://other.test/abs"
    assert "authorization" not in second.headers
    assert second.headers["x-api-version"] == "2"
    assert "authorization" not in third.headers
    assert bearer(Secret("k")) == {"Authorization": "Bearer k"}


@pytest.mark.parametrize(
    ("url", "keyed"),
    [
        ("https://api.acme.test/v2/other", True),
        ("https://API.acme.test:443/v1/x", True),
        ("https://assets.acme.test/v.mp4?X-Amz-Signature=abc", False),
        ("https://acme.test/x", False),
        ("https://api.acme.test.evil.test/x", False),
        ("https://api.acme.test:8443/x", False),
        ("http://api.acme.test/x", False),
        ("https://cdn.trusted.test/x", True),
        ("http://cdn.trusted.test/x", False),
    ],
)
@pytest.mark.parametrize("how", ["request", "json"])
async def test_the_key_goes_only_to_the_base_origin_and_trusted_hosts(
    upstream, url: str, keyed: bool, how: str
) -> None:
    """Absolute URLs get the key only on the base URL's origin or a trusted host (HTTPS)."""
    up, script = upstream(_json(200), trusted_hosts={"CDN.trusted.test"})
    if how == "request":
        await up.request("GET", url, call=CALL, idempotent=True)
    else:
        await up.json("GET", url, call=CALL, idempotent=True)
    (sent,) = script.requests
    assert ("authorization" in sent.headers) is keyed
    assert KEY not in str(sent.headers)


async def test_trusted_hosts_over_plain_http_when_the_base_is_http(upstream) -> None:
    """Loopback emulators serve HTTP: a trusted host there gets the key over HTTP too."""
    up, script = upstream(_json(200), base_url="http://127.0.0.1:9", trusted_hosts={"localhost"})
    await up.request("GET", "http://localhost:10/x", call=CALL, idempotent=True)
    await up.request("GET", "http://127.0.0.1:10/x", call=CALL, idempotent=True)
    keyed = ["authorization" in r.headers for r in script.requests]
    assert keyed == [True, False]


async def test_a_provider_adds_trusted_hosts_with_evolve(upstream) -> None:
    """attrs.evolve(upstream, trusted_hosts=...) is how a provider trusts another host."""
    up, script = upstream(_json(200))
    await up.request("GET", "https://files.acme.test/x", call=CALL, idempotent=True)
    trusting = attrs.evolve(up, trusted_hosts={"files.acme.test"})
    await trusting.request("GET", "https://files.acme.test/x", call=CALL, idempotent=True)
    await trusting.request("GET", "/videos", call=CALL, idempotent=True)
    assert ["authorization" in r.headers for r in script.requests] == [False, True, True]


async def test_custom_auth_headers_follow_the_same_rule(upstream) -> None:
    """Every header `auth` makes stays home; the caller's own headers still win."""

    def azure(key: Secret) -> dict[str, str]:
        return {"api-key": key.reveal(), "x-goog-api-key": key.reveal()}

    up, script = upstream(_json(200), auth=azure)
    await up.request("GET", "/x", call=CALL, idempotent=True, headers={"api-key": "mine"})
    await up.request("GET", "https://cdn.test/x", call=CALL, idempotent=True)
    home, away = script.requests
    assert (home.headers["api-key"], home.headers["x-goog-api-key"]) == ("mine", KEY)
    assert "api-key" not in away.headers
    assert "x-goog-api-key" not in away.headers


async def test_requests_carry_the_instance_timeouts(upstream) -> None:
    """Each request has the instance's connect/read/write/pool timeouts."""
    up, script = upstream(_json(200), timeouts=Timeouts(connect=1, read=2, write=3, pool=4))
    await up.request("GET", "/x", call=CALL, idempotent=True)
    assert script.requests[0].extensions["timeout"] == {
        "connect": 1,
        "read": 2,
        "write": 3,
        "pool": 4,
    }


def test_make_client_follows_no_redirects() -> None:
    """The shared client never follows redirects by itself."""
    client = make_client(timeouts=Timeouts(read=7))
    assert client.follow_redirects is False
    assert client.timeout.read == 7


# -- secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (f"bad key {KEY}", KEY),
        ("Authorization: Bearer abcdef123456.xyz", "abcdef123456"),
        ("authorization: bearer abcdef123456", "abcdef123456"),
        ("https://x.test/v1/files/a:download?alt=media&key=AIzaSyDEADBEEF", "AIzaSyDEADBEEF"),
        ("https://x.test/f?_jwt=eyJhbGciOi.payload.sig&other=1", "eyJhbGciOi"),
        ("https://s.test/o?X-Goog-Signature=abc123def&x=1", "abc123def"),
        ("https://s.test/o?sig=deadbeef", "deadbeef"),
        ("https://s.test/o?api_key=k-123&access_token=t-456", "k-123"),
        ("https://s.test/o?api_key=k-123&access_token=t-456", "t-456"),
    ],
)
def test_scrub_removes_secrets(text: str, gone: str) -> None:
    """Keys, bearer tokens and token-bearing query parameters are replaced."""
    cleaned = scrub(text, [Secret(KEY)])
    assert gone not in cleaned
    assert "***" in cleaned


def test_scrub_keeps_harmless_text() -> None:
    """Text with no secret in it is unchanged."""
    text = "https://x.test/v1/videos?limit=20&after=video_1 failed: HTTP 500"
    assert scrub(text, [Secret(KEY), ""]) == text


async def test_secrets_never_reach_errors(upstream) -> None:
    """An upstream that echoes the key in its body, message and URL leaks nothing."""
    body = {
        "error": {
            "message": f"invalid key {KEY}; Bearer {KEY}; see https://x.test/?key={KEY}&_jwt=abc.def",
            "echo": {"authorization": f"Bearer {KEY}"},
        }
    }
    for status in (400, 401, 403, 404, 429, 500):
        up, _ = upstream(_json(status, body), retry=RetryPolicy(attempts=1))
        with pytest.raises(ReelgateError) as e:
            await up.request("GET", "/x", call=CALL, idempotent=True)
        for text in (str(e.value), repr(e.value), json.dumps(e.value.raw_response)):
            assert KEY not in text
            assert "abc.def" not in text


async def test_secrets_never_reach_transport_errors(upstream) -> None:
    """A transport error quoting the URL with the key in its query leaks nothing."""
    url_with_key = f"https://api.acme.test/v1/x?key={KEY}"
    up, _ = upstream(httpx2.ConnectError(f"cannot reach {url_with_key}"))
    with pytest.raises(ProviderError) as e:
        await up.request("GET", "/x", call=CALL, idempotent=True, params={"key": KEY})
    assert KEY not in str(e.value)
    assert KEY not in repr(e.value)


async def test_reply_urls_are_scrubbed(upstream) -> None:
    """The URL a reply remembers has no key in it."""
    up, _ = upstream(_json(200), auth=lambda key: {})
    reply = await up.request("GET", "/x", call=CALL, idempotent=True, params={"key": KEY})
    assert KEY not in reply.url
    assert "key=***" in reply.url


async def test_library_log_lines_are_scrubbed(upstream, caplog) -> None:
    """httpx2's own request log line loses a signed URL's tokens."""
    caplog.set_level(logging.DEBUG)
    up, _ = upstream(_json(200))
    url = "https://cdn.test/v.mp4?X-Amz-Signature=s3cretsig&X-Amz-Credential=AKIA123&n=1"
    await up.request("GET", url, call=CALL, idempotent=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx2"]
    assert lines
    assert "s3cretsig" not in caplog.text
    assert "AKIA123" not in caplog.text
    assert "X-Amz-Signature=***" in lines[0]
    assert "n=1" in lines[0]


# -- Retry-After parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "5"}, 5.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": " 7 "}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "retry-after": "2"}, 2.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after": "1e20"}, 1e20),
        ({"retry-after": "-3"}, math.inf),
        ({"retry-after": "inf"}, math.inf),
        ({"retry-after": "-inf"}, math.inf),
        ({"retry-after": "nan"}, math.inf),
        ({"retry-after": "1e400"}, math.inf),
        ({"retry-after-ms": "inf"}, math.inf),
        ({"retry-after": "soon"}, math.inf),
        ({"retry-after": "Wed, 99 Foo 2015 07:28:00 GMT"}, math.inf),
        ({"retry-after": "Wed, 21 Oct 99999999999 07:28:00 GMT"}, math.inf),
        ({"retry-after": ""}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    """Seconds, milliseconds, past HTTP dates; inf ("too long") for what cannot be used."""
    assert parse_retry_after(httpx2.Headers(headers)) == seconds


def test_parse_retry_after_reads_a_future_http_date() -> None:
    """An HTTP date in the future is the seconds until then."""
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    seconds = parse_retry_after(httpx2.Headers({"Retry-After": when}))
    assert seconds is not None
    assert 100 < seconds <= 121


def test_parse_retry_after_ignores_header_case_in_plain_mappings() -> None:
    """Header names are case-insensitive, whatever mapping carries them."""
    assert parse_retry_after({"Retry-After": "5"}) == 5.0


# -- observing upstream calls -------------------------------------------------------------


async def test_observe_upstream_measures_and_keeps_scrubbed_bodies(upstream) -> None:
    """Inside the block, latency adds up and JSON bodies are kept, without the key."""
    up, _ = upstream(
        _json(200, {"id": "v1", "echo": KEY}),
        httpx2.Response(200, content=b"binary", headers={"content-type": "video/mp4"}),
        _json(404, {"error": {"message": "gone"}}),
        _json(200),
    )
    with observe_upstream(keep_raw=True) as log:
        await up.request("GET", "/a", call=CALL, idempotent=True)
        await up.request("GET", "/b", call=CALL, idempotent=True)
        with pytest.raises(NotFoundError):
            await up.request("GET", "/c", call=CALL, idempotent=True)
    assert log.latency > 0
    assert log.raw_responses == [{"id": "v1", "echo": "***"}, {"error": {"message": "gone"}}]
    await up.request("GET", "/d", call=CALL, idempotent=True)
    assert len(log.raw_responses) == 2


async def test_observe_upstream_keeps_nothing_unless_asked(upstream) -> None:
    """Without keep_raw only the latency is measured."""
    up, _ = upstream(_json(200))
    with observe_upstream() as log:
        await up.request("GET", "/a", call=CALL, idempotent=True)
    assert log.latency > 0
    assert log.raw_responses == []


# -- layering -----------------------------------------------------------------------------


def _runtime_imports(node: ast.AST) -> set[str]:
    """Modules a file imports when it runs (imports under ``if TYPE_CHECKING`` left out)."""
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return set().union(*map(_runtime_imports, node.orelse))
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        return {node.module.split(".")[0]} if node.module and not node.level else set()
    return set().union(*map(_runtime_imports, ast.iter_child_nodes(node)))


def test_only_reelgate_http_imports_httpx2() -> None:
    """The rest of the core reaches the HTTP library through reelgate.http alone."""
    root = pathlib.Path(reelgate.__file__).parent
    importers = {
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "httpx2" in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert importers == {"http.py"}
