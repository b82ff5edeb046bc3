"""
An emulator of the Runway API's video tasks: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_runway.emulator --port 8092`` and point
``RUNWAYML_BASE_URL`` (or the official ``runwayml`` SDK's ``base_url``) at it. It serves:

* ``POST /v1/text_to_video``, ``/v1/image_to_video`` and ``/v1/video_to_video``, checked
  model by model as Runway does (zod-style ``issues`` lists in 400 answers), answering
  ``{"id", "estimatedCost"}``;
* ``GET /v1/tasks/{id}``: PENDING, THROTTLED, RUNNING (with a 0..1 ``progress``), then
  SUCCEEDED with signed output URLs, or FAILED with a ``failureCode``;
* ``DELETE /v1/tasks/{id}``: 204; an unfinished task is cancelled, a finished one
  deleted, and either is then 404;
* ``GET /_files/<uuid>.mp4?_jwt=...`` on the asset host (`reelgate.emulation.asset_origin`,
  another name for this server, as Runway's CDN is another host): the output video,
  without a key; the token expires (``url_ttl``) and an expired one is refused with 403.

Every API request needs ``Authorization: Bearer <key>`` and ``X-Runway-Version:
2024-11-06``. A prompt containing ``[emulate:fail]`` fails (``INTERNAL.BAD_OUTPUT.CODE01``),
``[emulate:filter]`` is refused by moderation (``SAFETY.INPUT.TEXT``), and
``[emulate:slow]`` takes a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, asset_origin, directives, main
from reelgate.model import Variant

from .catalog import (
    IMAGE_TO_VIDEO,
    MAX_DATA_URI_CHARS,
    MAX_PROMPT_UTF16,
    MODELS,
    RUNWAY_VERSION,
    TEXT_TO_VIDEO,
    VIDEO_TO_VIDEO,
    ModelRules,
    utf16_length,
)

__all__ = ["RunwayEmulator", "Task", "create_app", "error_body", "validate"]

_DOC_URL = "https://docs.dev.runwayml.com/api"
_MAX_SEED = 4_294_967_295
#: Credits per second of output, roughly Runway's price list.
_CREDITS_PER_SECOND = {
    "gen4.5": 12,
    "gen4_turbo": 5,
    "veo3": 40,
    "veo3.1": 40,
    "veo3.1_fast": 15,
    "aleph2": 15,
}
_SILENT_CREDITS_PER_SECOND = {"veo3.1": 20, "veo3.1_fast": 10}
_DEFAULT_SECONDS = {"gen4_turbo": 10, "veo3": 8, "veo3.1": 8, "veo3.1_fast": 8, "aleph2": 5}
_VIDEO_MODELS = ("aleph2",)

Issue = dict[str, Any]


def error_body(status: int, message: str) -> bytes:  # the FaultMiddleware signature
    """Runway's error body: ``{"error": "<message>"}``."""
    return json.dumps({"error": message}).encode()


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status)


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- validation, as Runway's zod schemas answer -------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _invalid_type(path: list[Any], expected: str, value: Any, *, missing: bool = False) -> Issue:
    received = "undefined" if missing else _type_name(value)
    return {
        "expected": expected,
        "code": "invalid_type",
        "path": path,
        "message": f"Invalid input: expected {expected}, received {received}",
    }


def _invalid_value(path: list[Any], values: Collection[Any]) -> Issue:
    shown = "|".join(json.dumps(v) for v in values)
    return {
        "code": "invalid_value",
        "values": list(values),
        "path": path,
        "message": f"Invalid option: expected one of {shown}",
    }


def _bound(path: list[Any], code: str, limit: int, origin: str) -> Issue:
    small = code == "too_small"
    what = "number to be" if origin == "number" else f"{origin} to have"
    unit = "" if origin == "number" else " characters"
    sign = ">=" if small else "<="
    return {
        "origin": origin,
        "code": code,
        "minimum" if small else "maximum": limit,
        "inclusive": True,
        "path": path,
        "message": f"Too {'small' if small else 'big'}: expected {what} {sign}{limit}{unit}",
    }


def _check_prompt(body: Mapping[str, Any], issues: list[Issue], *, required: bool) -> None:
    if "promptText" not in body:
        if required:
            issues.append(_invalid_type(["promptText"], "string", None, missing=True))
        return
    text = body["promptText"]
    if not isinstance(text, str):
        issues.append(_invalid_type(["promptText"], "string", text))
    elif not text:
        issues.append(_bound(["promptText"], "too_small", 1, "string"))
    elif utf16_length(text) > MAX_PROMPT_UTF16:
        issues.append(_bound(["promptText"], "too_big", MAX_PROMPT_UTF16, "string"))


def _check_uri(path: list[Any], value: Any, kind: str, issues: list[Issue]) -> None:
    if not isinstance(value, str):
        issues.append(_invalid_type(path, "string", value))
        return
    if value.startswith("data:"):
        header = value.partition(",")[0]
        if not header.startswith(f"data:{kind}/") or not header.endswith(";base64"):
            issues.append(
                {
                    "code": "custom",
                    "path": path,
                    "message": f"Invalid data URI: expected data:{kind}/...;base64,...",
                }
            )
        elif len(value) > MAX_DATA_URI_CHARS:
            issues.append(
                {"code": "custom", "path": path, "message": "Data URIs must be at most 5MB"}
            )
        return
    if not value.startswith(("https://", "runway://")):
        issues.append(
            {
                "code": "custom",
                "path": path,
                "message": "Invalid input: expected an HTTPS URL, a runway:// URI or a data URI",
            }
        )


def _check_image(body: Mapping[str, Any], rules: ModelRules, issues: list[Issue]) -> None:
    if "promptImage" not in body:
        issues.append(_invalid_type(["promptImage"], "string", None, missing=True))
        return
    image = body["promptImage"]
    if not isinstance(image, list):
        _check_uri(["promptImage"], image, "image", issues)
        return
    positions = ["first", "last"] if rules.last_frame else ["first"]
    seen = []
    for i, item in enumerate(image):
        if not isinstance(item, Mapping):
            issues.append(_invalid_type(["promptImage", i], "object", item))
            continue
        _check_uri(["promptImage", i, "uri"], item.get("uri"), "image", issues)
        if item.get("position") not in positions:
            issues.append(_invalid_value(["promptImage", i, "position"], positions))
        seen.append(item.get("position"))
    if "first" not in seen:
        issues.append(
            {"code": "custom", "path": ["promptImage"], "message": "A first frame is required"}
        )


def _check_duration(body: Mapping[str, Any], rules: ModelRules, issues: list[Issue]) -> None:
    if "duration" not in body:
        if rules.default_duration is not None:
            issues.append(_invalid_type(["duration"], "int", None, missing=True))
        return
    duration, durations = body["duration"], rules.durations
    if isinstance(duration, bool) or not isinstance(duration, int):
        issues.append(_invalid_type(["duration"], "int", duration))
    elif len(durations) > 2 and durations == tuple(range(durations[0], durations[-1] + 1)):
        if duration < durations[0]:
            issues.append(_bound(["duration"], "too_small", durations[0], "number"))
        elif duration > durations[-1]:
            issues.append(_bound(["duration"], "too_big", durations[-1], "number"))
    elif duration not in durations:
        issues.append(_invalid_value(["duration"], durations))


def _check_common(body: Mapping[str, Any], issues: list[Issue]) -> None:
    seed = body.get("seed")
    if "seed" in body and (isinstance(seed, bool) or not isinstance(seed, int)):
        issues.append(_invalid_type(["seed"], "int", seed))
    elif isinstance(seed, int) and not 0 <= seed <= _MAX_SEED:
        code, limit = ("too_small", 0) if seed < 0 else ("too_big", _MAX_SEED)
        issues.append(_bound(["seed"], code, limit, "number"))


def validate(endpoint: str, body: Any) -> list[Issue]:
    """
    The issues Runway would list for a create body sent to `endpoint`.

    They are shaped as zod reports them; the list is empty when the body is valid.
    """
    if not isinstance(body, Mapping):
        return [_invalid_type([], "object", body)]
    model = body.get("model")
    known = [m for m in MODELS.values() if endpoint in m.ratios]
    names = [m.name for m in known] + (list(_VIDEO_MODELS) if endpoint == VIDEO_TO_VIDEO else [])
    if not isinstance(model, str) or model not in names:
        union: Issue = {
            "code": "invalid_union",
            "errors": [],
            "note": "No matching discriminator",
            "discriminator": "model",
            "path": ["model"],
            "message": "Invalid input",
        }
        if isinstance(model, str):
            return [union]
        return [_invalid_type(["model"], "string", model, missing="model" not in body), union]
    issues: list[Issue] = []
    _check_common(body, issues)
    if endpoint == VIDEO_TO_VIDEO:
        _check_prompt(body, issues, required=False)
        if "videoUri" not in body:
            issues.append(_invalid_type(["videoUri"], "string", None, missing=True))
        else:
            _check_uri(["videoUri"], body["videoUri"], "video", issues)
        if "ratio" in body and not isinstance(body["ratio"], str):
            issues.append(_invalid_type(["ratio"], "string", body["ratio"]))
        return issues
    rules = MODELS[model]
    _check_prompt(body, issues, required=endpoint in rules.prompt_required)
    if endpoint == IMAGE_TO_VIDEO:
        _check_image(body, rules, issues)
    if body.get("ratio") not in rules.ratios[endpoint]:
        issues.append(_invalid_value(["ratio"], rules.ratios[endpoint]))
    _check_duration(body, rules, issues)
    if (
        rules.negative_prompt
        and "negativePrompt" in body
        and not isinstance(body["negativePrompt"], str)
    ):
        issues.append(_invalid_type(["negativePrompt"], "string", body["negativePrompt"]))
    if rules.audio and "audio" in body and not isinstance(body["audio"], bool):
        issues.append(_invalid_type(["audio"], "boolean", body["audio"]))
    return issues


def _estimate(body: Mapping[str, Any]) -> int:
    model = str(body["model"])
    rate = _CREDITS_PER_SECOND.get(model, 10)
    if body.get("audio") is False:
        rate = _SILENT_CREDITS_PER_SECOND.get(model, rate)
    seconds = body.get("duration") or _DEFAULT_SECONDS.get(model, 5)
    return int(rate * seconds)


# -- tasks ------------------------------------------------------------------------------


@attrs.define
class Task:
    """
    One emulated task; its state follows from the clock.

    Attributes:
        id: The task's UUID.
        endpoint: Where it was created (``text_to_video``...).
        body: The create body as received.
        created: When it was created.
        duration: How long it runs, in seconds.
        outcome: ``succeeded``, ``failed`` or ``filtered``.
        credits: The estimated cost.
        file: The UUID of its output file.
        cancelled: When it was cancelled, and whether it was running then.
    """

    id: str
    endpoint: str
    body: Mapping[str, Any]
    created: float
    duration: float
    outcome: str
    credits: int
    file: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    cancelled: tuple[float, bool] | None = None

    def phase(self, now: float) -> str:
        """Runway's status at `now`."""
        if self.cancelled is not None:
            return "CANCELLED"
        elapsed = now - self.created
        if elapsed < self.duration * 0.1:
            return "PENDING"
        if elapsed < self.duration * 0.25:
            return "THROTTLED"
        if elapsed < self.duration:
            return "RUNNING"
        return "SUCCEEDED" if self.outcome == "succeeded" else "FAILED"

    def view(self, now: float, output_url: Callable[[Task], str]) -> dict[str, Any]:
        """The task as ``GET /v1/tasks/{id}`` answers it at `now`."""
        status = self.phase(now)
        out: dict[str, Any] = {"id": self.id, "status": status, "createdAt": _iso(self.created)}
        if status in ("PENDING", "THROTTLED", "RUNNING"):
            out["estimatedCost"] = {"credits": self.credits}
        if status == "RUNNING":
            run = self.duration * 0.75
            out["progress"] = round(
                min(0.999, (now - self.created - self.duration * 0.25) / run), 3
            )
        elif status == "SUCCEEDED":
            out["output"] = [output_url(self)]
            out["cost"] = {"credits": self.credits}
        elif status == "FAILED":
            if self.outcome == "filtered":
                out["failure"] = "The prompt was flagged by content moderation."
                out["failureCode"] = "SAFETY.INPUT.TEXT"
            else:
                out["failure"] = "An unexpected error occurred while generating the output."
                out["failureCode"] = "INTERNAL.BAD_OUTPUT.CODE01"
            out["cost"] = {"credits": 0}
        elif status == "CANCELLED":
            charged = self.cancelled is not None and self.cancelled[1]
            out["cost"] = {"credits": self.credits if charged else 0}
        return out


class RunwayEmulator(FaultMiddleware):
    """
    The emulator app: a `FaultMiddleware` around the Runway routes.

    Attributes:
        faults: The fault script, and every request seen.
        tasks: Every live task by id.
        received: Each create as received: ``(endpoint, body)``.
    """

    def __init__(
        self,
        app: Any,
        faults: Faults | None,
        tasks: dict[str, Task],
        received: list[tuple[str, Any]],
    ) -> None:
        super().__init__(app, faults, error_body=error_body)
        self.tasks = tasks
        self.received = received


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    url_ttl: float = 24 * 3600.0,
    cancel_window: float = 0.0,
    keys: Collection[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> RunwayEmulator:
    """
    A fresh emulator with its own tasks.

    Args:
        job_seconds: How long a task takes (a tenth PENDING, then THROTTLED until a
            quarter, then RUNNING).
        faults: A fault script to share (a new one by default); also ``app.faults``.
        url_ttl: Seconds a signed output URL stays valid (Runway's last 24 to 48 hours).
        cancel_window: Seconds a cancelled task stays visible as CANCELLED before it is
            404 (Runway's own window is unknown; 0 means at once).
        keys: The API keys accepted (default: any bearer key).
        clock: The emulator's time source.
    """
    tasks: dict[str, Task] = {}
    received: list[tuple[str, Any]] = []
    secret = secrets.token_bytes(32)

    def sign(file: str, expires: float) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": file, "exp": expires, "jti": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(mac)}"

    def verify(file: str, token: str) -> str | None:
        """Why the token does not open `file`, or None when it does."""
        try:
            header, payload, mac = token.split(".")
            expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            claims = json.loads(_unb64(payload))
            valid = hmac.compare_digest(_unb64(mac), expected) and claims.get("sub") == file
        except (ValueError, TypeError, AttributeError):
            valid = False
        if not valid:
            return "The signature of this URL is invalid."
        if float(claims["exp"]) <= clock():
            return "This URL has expired. Retrieve the task again for a fresh URL."
        return None

    def refused(request: Request) -> Response | None:
        token = request.headers.get("authorization", "")
        scheme, _, key = token.partition(" ")
        if (
            scheme.lower() != "bearer"
            or not key.strip()
            or (keys is not None and key.strip() not in keys)
        ):
            return _error(401, "Invalid API key. Send it as 'Authorization: Bearer <key>'.")
        version = request.headers.get("x-runway-version")
        if version is None:
            return _error(
                400,
                f"The X-Runway-Version header is required (current: {RUNWAY_VERSION}).",
            )
        if version != RUNWAY_VERSION:
            return _error(
                400,
                f"Unsupported X-Runway-Version {version!r} (current: {RUNWAY_VERSION}).",
            )
        return None

    def find(request: Request) -> Task | Response:
        task = tasks.get(request.path_params["task_id"])
        if task is None:
            return _error(404, "Task not found.")
        if task.cancelled is not None and clock() >= task.cancelled[0] + cancel_window:
            del tasks[task.id]
            return _error(404, "Task not found.")
        return task

    def output_url(base: str) -> Callable[[Task], str]:
        def url(task: Task) -> str:
            return f"{base}/_files/{task.file}.mp4?_jwt={sign(task.file, clock() + url_ttl)}"

        return url

    def creator(endpoint: str) -> Callable[[Request], Any]:
        async def create(request: Request) -> Response:
            if (denied := refused(request)) is not None:
                return denied
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "The request body is not valid JSON.")
            received.append((endpoint, body))
            if issues := validate(endpoint, body):
                return JSONResponse(
                    {"error": "Validation of body failed", "issues": issues, "docUrl": _DOC_URL},
                    400,
                )
            flags = directives(body.get("promptText"))
            outcome = (
                "filtered" if "filter" in flags else "failed" if "fail" in flags else "succeeded"
            )
            task = Task(
                id=str(uuid.uuid4()),
                endpoint=endpoint,
                body=body,
                created=clock(),
                duration=60.0 if "slow" in flags else job_seconds,
                outcome=outcome,
                credits=_estimate(body),
            )
            tasks[task.id] = task
            return JSONResponse({"id": task.id, "estimatedCost": {"credits": task.credits}})

        return create

    async def retrieve(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        task = find(request)
        if isinstance(task, Response):
            return task
        return JSONResponse(task.view(clock(), output_url(asset_origin(str(request.base_url)))))

    async def delete(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        task = find(request)
        if isinstance(task, Response):
            return task
        now = clock()
        phase = task.phase(now)
        if phase in ("PENDING", "THROTTLED", "RUNNING"):
            task.cancelled = (now, phase == "RUNNING")
            if cancel_window <= 0:
                del tasks[task.id]
        else:
            del tasks[task.id]
        return Response(status_code=204)

    async def file(request: Request) -> Response:
        name = request.path_params["name"]
        file_id = name.removesuffix(".mp4")
        task = next((t for t in tasks.values() if t.file == file_id), None)
        if task is None or not name.endswith(".mp4") or task.phase(clock()) != "SUCCEEDED":
            return _error(404, "Not found.")
        if (why := verify(file_id, request.query_params.get("_jwt", ""))) is not None:
            return _error(403, why)
        return Response(media.sample(Variant.VIDEO), media_type="video/mp4")

    async def http_error(_request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(
            status,
            "Not found."
            if status == 404
            else "Method not allowed."
            if status == 405
            else "Internal error.",
        )

    routes = Starlette(
        routes=[
            Route("/v1/text_to_video", creator(TEXT_TO_VIDEO), methods=["POST"]),
            Route("/v1/image_to_video", creator(IMAGE_TO_VIDEO), methods=["POST"]),
            Route("/v1/video_to_video", creator(VIDEO_TO_VIDEO), methods=["POST"]),
            Route("/v1/tasks/{task_id}", retrieve, methods=["GET"]),
            Route("/v1/tasks/{task_id}", delete, methods=["DELETE"]),
            Route("/_files/{name}", file, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    return RunwayEmulator(routes, faults, tasks, received)


if __name__ == "__main__":
    main(create_app, description="Emulator of the Runway API's video tasks", default_port=8092)
