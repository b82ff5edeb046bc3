"""
An emulator of Kling's video API (text2video and image2video tasks), with scriptable faults.

Run it with ``python -m reelgate_kling.emulator --port 8094`` and point ``KLING_BASE_URL``
at it. It serves, as Kling's API reference describes them:

* ``POST /v1/videos/text2video`` and ``/v1/videos/image2video``: the body checked field by
  field (model names per endpoint, ``mode``, ``duration`` ``"5"``/``"10"`` as strings,
  ``aspect_ratio`` for text only, ``cfg_scale`` not on v2 models, ``image`` a URL or bare
  base64 without a ``data:`` prefix); answers ``{code: 0, message, request_id, data}``;
* ``GET /v1/videos/{text2video,image2video}/{task_id}``: ``submitted``, ``processing``,
  then ``succeed`` with ``task_result.videos`` or ``failed`` with ``task_status_msg``;
* ``GET /v1/videos/{text2video,image2video}?pageNum=&pageSize=``: newest first.

Every request needs ``Authorization: Bearer <JWT>``: HS256, ``iss`` an access key whose
secret key signs it (``accounts``, else ``default_secret``), checked against ``nbf`` and
``exp``; failures are HTTP 401 with codes 1001 (empty), 1002 (invalid), 1003 (not yet
valid), 1004 (expired). Errors are ``{code, message, request_id}`` with the HTTP status of
Kling's table. Videos are served under ``/kcdn/`` on another host name than the API's
(``localhost`` for ``127.0.0.1``, ``cdn.<host>`` otherwise), with no token asked for.
``[emulate:fail]`` fails a task, ``[emulate:filter]`` fails it by content policy,
``[emulate:slow]`` makes it take a minute.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant

__all__ = ["DEFAULT_SECRET", "Task", "create_app", "error_body"]

#: The secret key of any access key the emulator was not told about.
DEFAULT_SECRET = "kling-emulator-secret"  # noqa: S105  # the emulator's test secret
_MODELS = {
    "text2video": (
        "kling-v1",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
    ),
    "image2video": (
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
    ),
}
#: The HTTP status of each service code (the API reference's error table).
_HTTP = {
    1000: 401, 1001: 401, 1002: 401, 1003: 401, 1004: 401,
    1100: 429, 1101: 429, 1102: 429, 1103: 403,
    1200: 400, 1201: 400, 1202: 404, 1203: 404,
    1300: 400, 1301: 400, 1302: 429, 1303: 429, 1304: 429,
    5000: 500, 5001: 503, 5002: 504,
}  # fmt: skip
#: The service code a scripted fault's HTTP status stands for.
_CODE_OF_STATUS = {401: 1000, 403: 1103, 404: 1203, 400: 1200, 429: 1302, 503: 5001, 504: 5002}
_FAILED = "Task failed (emulated)."
_POLICY = "Failure to pass the risk control system (emulated)."


def error_body(status: int, message: str) -> bytes:
    """Kling's error envelope for an HTTP status (a fault's answer)."""
    code = _CODE_OF_STATUS.get(status, 5000 if status >= 500 else 1200)
    return json.dumps({"code": code, "message": message, "request_id": str(uuid.uuid4())}).encode()


def _error(code: int, message: str) -> Response:
    body = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=_HTTP.get(code, 500))


def _ok(data: Any) -> Response:
    return JSONResponse(
        {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
    )


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_token(
    header: str, secret_for: Callable[[str], str], now: float
) -> tuple[int, str] | None:
    """Why an ``Authorization`` header is refused (code, message), or None."""
    return next(_token_problems(header, secret_for, now), None)


def _token_problems(
    header: str, secret_for: Callable[[str], str], now: float
) -> Iterator[tuple[int, str]]:
    scheme, _, token = header.partition(" ")
    invalid = (1002, "Authorization is invalid")
    if not token.strip():
        yield 1001, "Authorization is empty"
    if scheme != "Bearer" or token.count(".") != 2:
        yield invalid
        return
    head, claims_part, signature = token.split(".")
    try:
        claims = json.loads(_unb64(claims_part))
        alg = json.loads(_unb64(head)).get("alg")
        given = _unb64(signature)
    except (ValueError, binascii.Error, AttributeError):
        yield invalid
        return
    if alg != "HS256" or not isinstance(claims, dict) or not isinstance(claims.get("iss"), str):
        yield invalid
        return
    key = secret_for(claims["iss"]).encode()
    expected = hmac.new(key, f"{head}.{claims_part}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        yield invalid
    if not isinstance(claims.get("nbf"), int) or claims["nbf"] > now:
        yield 1003, "Authorization is not yet valid"
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        yield 1004, "Authorization has expired"


@attrs.define
class Task:
    """One emulated task."""

    id: str
    endpoint: str
    body: dict[str, Any]
    created: float
    seconds: float
    failure: str | None

    def status(self, now: float) -> str:
        """The ``task_status`` at `now`."""
        elapsed = now - self.created
        if elapsed < self.seconds * 0.2:
            return "submitted"
        if elapsed < self.seconds:
            return "processing"
        return "failed" if self.failure else "succeed"

    def data(self, now: float, cdn: str) -> dict[str, Any]:
        """The task as Kling writes it in ``data``."""
        status = self.status(now)
        finished = self.created + self.seconds
        out: dict[str, Any] = {
            "task_id": self.id,
            "task_status": status,
            "task_status_msg": self.failure if status == "failed" else "",
            "task_info": {"external_task_id": self.body.get("external_task_id", "")},
            "created_at": int(self.created * 1000),
            "updated_at": int((finished if status in ("succeed", "failed") else now) * 1000),
        }
        if status == "succeed":
            video = {
                "id": f"v{self.id}",
                "url": f"{cdn}/kcdn/{self.id}/output.mp4",
                "duration": str(self.body.get("duration", "5")),
            }
            out["task_result"] = {"videos": [video]}
        return out


def _problems(endpoint: str, body: Any) -> Iterator[tuple[int, str]]:
    if not isinstance(body, dict):
        yield 1200, "request body must be a JSON object"
        return
    model = body.get("model_name", "kling-v1")
    if model not in _MODELS[endpoint]:
        yield 1203, f"model_name {model} is not supported on {endpoint}"
    prompt = body.get("prompt")
    if endpoint == "text2video" and not (isinstance(prompt, str) and prompt.strip()):
        yield 1201, "prompt is required"
    for field in ("prompt", "negative_prompt"):
        if isinstance(body.get(field), str) and len(body[field]) > 2500:
            yield 1201, f"{field} cannot exceed 2500 characters"
    allowed = {
        "mode": ("std", "pro"),
        "duration": ("5", "10"),
        "aspect_ratio": ("16:9", "9:16", "1:1"),
    }
    for field, values in allowed.items():
        if field in body and body[field] not in values:
            yield 1201, f"{field} must be one of {', '.join(values)}"
    if endpoint == "image2video" and "aspect_ratio" in body:
        yield 1201, "aspect_ratio is not a parameter of image2video"
    if "cfg_scale" in body:
        yield from _cfg_problems(model, body["cfg_scale"])
    if endpoint == "image2video":
        images = [body.get(k) for k in ("image", "image_tail") if body.get(k) is not None]
        if not images:
            yield 1201, "image or image_tail is required"
        for image in images:
            yield from _image_problems(image)


def _cfg_problems(model: str, scale: Any) -> Iterator[tuple[int, str]]:
    if model.startswith("kling-v2"):
        yield 1201, f"{model} does not support cfg_scale"
    elif not isinstance(scale, int | float) or not 0 <= scale <= 1:
        yield 1201, "cfg_scale must be within [0, 1]"


def _image_problems(image: Any) -> Iterator[tuple[int, str]]:
    if not isinstance(image, str):
        yield 1201, "image must be a URL or Base64 string"
    elif image.startswith("data:"):
        yield 1201, "image Base64 must not carry a data: prefix"
    elif not image.startswith(("http://", "https://")):
        try:
            base64.b64decode(image, validate=True)
        except (ValueError, binascii.Error):
            yield 1201, "image is neither a URL nor valid Base64"


def _cdn_base(request: Request) -> str:
    host = request.url.hostname or "localhost"
    cdn = "localhost" if host == "127.0.0.1" else f"cdn.{host}"
    port = f":{request.url.port}" if request.url.port else ""
    return f"{request.url.scheme}://{cdn}{port}"


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
    accounts: Mapping[str, str] | None = None,
    default_secret: str = DEFAULT_SECRET,
) -> FaultMiddleware:
    """
    A fresh emulator with its own tasks.

    Args:
        job_seconds: How long a task takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        clock: The emulator's time (token validity and task phases).
        accounts: Access key -> secret key; other access keys use `default_secret`.
        default_secret: The secret key of access keys not in `accounts`.
    """
    tasks: dict[str, Task] = {}
    known = dict(accounts or {})

    def refused(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        problem = verify_token(header, lambda iss: known.get(iss, default_secret), clock())
        return None if problem is None else _error(*problem)

    def creator(endpoint: str) -> Callable[[Request], Any]:
        async def create(request: Request) -> Response:
            if (denied := refused(request)) is not None:
                return denied
            try:
                body = await request.json()
            except ValueError:
                return _error(1200, "request body is not JSON")
            if (problem := next(_problems(endpoint, body), None)) is not None:
                return _error(*problem)
            flags = directives(body.get("prompt"))
            task = Task(
                id=f"{int(clock() * 1000)}{secrets.randbelow(10**6):06d}",
                endpoint=endpoint,
                body=body,
                created=clock(),
                seconds=60.0 if "slow" in flags else job_seconds,
                failure=_POLICY if "filter" in flags else _FAILED if "fail" in flags else None,
            )
            tasks[task.id] = task
            data = task.data(clock(), _cdn_base(request))
            return _ok(
                {
                    k: data[k]
                    for k in ("task_id", "task_status", "task_info", "created_at", "updated_at")
                }
            )

        return create

    def reader(endpoint: str) -> Callable[[Request], Any]:
        async def read(request: Request) -> Response:
            if (denied := refused(request)) is not None:
                return denied
            task = tasks.get(request.path_params["task_id"])
            if task is None or task.endpoint != endpoint:
                return _error(1203, "task not found")
            return _ok(task.data(clock(), _cdn_base(request)))

        return read

    def lister(endpoint: str) -> Callable[[Request], Any]:
        async def listing(request: Request) -> Response:
            if (denied := refused(request)) is not None:
                return denied
            try:
                page = int(request.query_params.get("pageNum", "1"))
                size = int(request.query_params.get("pageSize", "30"))
            except ValueError:
                return _error(1201, "pageNum and pageSize must be integers")
            if not (1 <= page <= 1000 and 1 <= size <= 500):
                return _error(1201, "pageNum must be 1..1000 and pageSize 1..500")
            mine = [t for t in tasks.values() if t.endpoint == endpoint]
            mine.sort(key=lambda t: t.created, reverse=True)
            cdn = _cdn_base(request)
            return _ok([t.data(clock(), cdn) for t in mine[(page - 1) * size : page * size]])

        return listing

    async def video(request: Request) -> Response:
        task = tasks.get(request.path_params["task_id"])
        if task is None or task.status(clock()) != "succeed":
            return Response(b"Not Found", 404, media_type="text/plain")
        return Response(media.sample(Variant.VIDEO), media_type="video/mp4")

    routes: list[Route] = [Route("/kcdn/{task_id}/output.mp4", video, methods=["GET"])]
    for endpoint in ("text2video", "image2video"):
        routes += [
            Route(f"/v1/videos/{endpoint}", creator(endpoint), methods=["POST"]),
            Route(f"/v1/videos/{endpoint}", lister(endpoint), methods=["GET"]),
            Route(f"/v1/videos/{endpoint}/{{task_id}}", reader(endpoint), methods=["GET"]),
        ]
    return FaultMiddleware(Starlette(routes=routes), faults, error_body=error_body)


if __name__ == "__main__":
    main(create_app, description="Emulator of Kling's video API", default_port=8094)
