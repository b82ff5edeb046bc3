"""
An emulator of Replicate's predictions API: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_replicate.emulator --port 8102``. It serves, under ``/v1``:

* ``POST /v1/models/{owner}/{name}/predictions`` and ``POST /v1/predictions`` (with a
  ``version``): ``201`` with the prediction, ``starting``;
* ``GET /v1/predictions/{id}``: ``starting`` for a fifth of the job, then ``processing``
  with tqdm lines in ``logs``, then ``succeeded`` with ``output`` (a file URL) and
  ``metrics.predict_time``; a prompt with ``[emulate:fail]`` ends ``failed``;
  ``[emulate:slow]`` takes a minute; ``retention`` seconds after it finishes an API
  prediction's input, output and logs are removed (``data_removed: true``);
* ``POST /v1/predictions/{id}/cancel``: ``canceled`` (a finished prediction is unchanged);
* ``GET /v1/predictions``: newest first, ``page_size`` to a page, with ``next`` and
  ``previous`` URLs carrying an opaque ``cursor``;
* ``GET /xezq/{token}/output.mp4``: the file, on another host name than the API (as
  ``replicate.delivery`` is), without a key.

Errors are problem-details bodies (``{"title", "detail", "status"}``); a listed model's
input is validated as Replicate validates it (422 with ``invalid_fields``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant

from .catalog import MODELS

__all__ = ["ReplicateEmulator", "create_app", "error_body"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TITLES = {401: "Unauthenticated", 404: "Not found", 422: "Input validation failed"}


def error_body(status: int, message: str) -> bytes:
    """Replicate's problem-details error body."""
    return json.dumps(
        {"title": _TITLES.get(status, "Error"), "detail": message, "status": status}
    ).encode()


def _problem(status: int, detail: str, **extra: Any) -> Response:
    body = {"title": _TITLES.get(status, "Error"), "detail": detail, "status": status, **extra}
    return JSONResponse(body, status, media_type="application/problem+json")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.define
class Prediction:
    """One emulated prediction; its state is a function of the clock."""

    id: str
    model: str
    version: str
    input: dict[str, Any]
    created: float
    seconds: float
    fail: bool
    seq: int
    file: str = attrs.field(factory=lambda: secrets.token_urlsafe(24))
    cancelled: float | None = None

    def finished_at(self) -> float:
        """When it finished (or will)."""
        end = self.created + self.seconds
        return min(end, self.cancelled) if self.cancelled is not None else end

    def state(self, now: float, api: str, files: str, retention: float) -> dict[str, Any]:
        """The prediction as ``GET /v1/predictions/{id}`` answers at `now`."""
        elapsed = now - self.created
        out: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "source": "api",
            "status": "starting",
            "created_at": _iso(self.created),
            "urls": {
                "cancel": f"{api}/v1/predictions/{self.id}/cancel",
                "get": f"{api}/v1/predictions/{self.id}",
                "web": f"https://replicate.com/p/{self.id}",
            },
        }
        start = self.created + self.seconds * 0.2
        if now >= start:
            out["started_at"] = _iso(start)
        finished = self.cancelled is not None or elapsed >= self.seconds
        if not finished:
            if now < start:
                return out
            steps = int(50 * (now - start) / (self.seconds * 0.8))
            lines = [f"{100 * s // 50:3d}%|{'#' * (s // 5):<10}| {s}/50" for s in range(steps + 1)]
            return {**out, "status": "processing", "logs": "\n".join(lines)}
        end = self.finished_at()
        out.update(completed_at=_iso(end), metrics={"predict_time": round(end - start, 3)})
        if self.cancelled is not None and self.cancelled < self.created + self.seconds:
            out["status"] = "canceled"
        elif self.fail:
            out.update(status="failed", error="E001: the model raised an error (emulated)")
        else:
            out.update(status="succeeded", output=f"{files}/xezq/{self.file}/output.mp4")
            out["logs"] = "100%|##########| 50/50\nsaved output.mp4"
        if now >= end + retention:
            out.update(input={}, output=None, logs="", data_removed=True)
        return out


@attrs.define
class ReplicateEmulator:
    """The ASGI app with its predictions and fault script."""

    app: FaultMiddleware
    predictions: dict[str, Prediction]
    received: list[tuple[str, Any]]

    @property
    def faults(self) -> Faults:
        """The fault script."""
        return self.app.faults

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI request."""
        await self.app(scope, receive, send)


def _files_base(request: Request) -> str:
    """The delivery host: another name for this server, as replicate.delivery is."""
    host = request.url.hostname or "emulator.test"
    port = f":{request.url.port}" if request.url.port else ""
    other = "localhost" if host == "127.0.0.1" else f"delivery.{host}"
    return f"{request.url.scheme}://{other}{port}"


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _validate(name: str, body_input: Any) -> list[dict[str, str]]:
    if not isinstance(body_input, dict):
        return [{"type": "type", "field": "input", "description": "input must be an object"}]
    issues = []
    if not isinstance(body_input.get("prompt"), str):
        issues.append(
            {"type": "required", "field": "input.prompt", "description": "prompt is required"}
        )
    rules = MODELS.get(name)
    if rules is None:
        return issues
    checks = (
        ("duration", rules.durations),
        ("aspect_ratio", rules.ratios),
        ("resolution", rules.resolutions),
    )
    for field, allowed in checks:
        if field in body_input and allowed and body_input[field] not in allowed:
            options = ", ".join(str(a) for a in allowed)
            issues.append(
                {
                    "type": "enum",
                    "field": f"input.{field}",
                    "description": f"{field} must be one of the following: {options}",
                }
            )
    if rules.image_required and not body_input.get(rules.image_field or "image"):
        field = f"input.{rules.image_field}"
        issues.append({"type": "required", "field": field, "description": f"{field} is required"})
    return issues


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    page_size: int = 100,
    retention: float = 3600.0,
    keys: Collection[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> ReplicateEmulator:
    """
    A fresh emulator with its own predictions.

    Args:
        job_seconds: How long a prediction takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        page_size: Predictions per page of the list (Replicate's: 100).
        retention: Seconds after it finishes that a prediction's data is removed.
        keys: The tokens accepted (default: any bearer token).
        clock: The emulator's time source.
    """
    predictions: dict[str, Prediction] = {}
    received: list[tuple[str, Any]] = []

    def refused(request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            return _problem(401, "You did not pass an authentication token")
        if keys is not None and token.strip() not in keys:
            return _problem(401, "You did not pass a valid authentication token")
        return None

    def show(request: Request, prediction: Prediction) -> dict[str, Any]:
        return prediction.state(clock(), _api_base(request), _files_base(request), retention)

    async def start(request: Request, name: str, version: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "The request body is not valid JSON.")
        received.append((name, body))
        if issues := _validate(name, body.get("input") if isinstance(body, dict) else None):
            detail = "".join(f"- {i['field']}: {i['description']}\n" for i in issues)
            return _problem(422, detail, invalid_fields=issues)
        flags = directives(body["input"].get("prompt"))
        new_id = "".join(secrets.choice(_ALPHABET) for _ in range(26))
        prediction = Prediction(
            id=new_id,
            model=name,
            version=version,
            input=body["input"],
            created=clock(),
            seconds=60.0 if "slow" in flags else job_seconds,
            fail="fail" in flags,
            seq=len(predictions),
        )
        predictions[new_id] = prediction
        return JSONResponse(show(request, prediction), 201)

    async def create_official(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        owner, name = request.path_params["owner"], request.path_params["name"]
        return await start(request, f"{owner}/{name}", "hidden")

    async def create_version(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            version = (await request.json()).get("version")
        except (ValueError, AttributeError):
            return _problem(400, "The request body is not valid JSON.")
        model, _, version_id = str(version or "").rpartition(":")
        if len(version_id) != 64:
            return _problem(422, "- version: Invalid version or not permitted\n")
        return await start(request, model or "emulator/community-model", version_id)

    def find(request: Request) -> Prediction | Response:
        prediction = predictions.get(request.path_params["prediction_id"])
        return prediction if prediction is not None else _problem(404, "Not found.")

    async def retrieve(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        found = find(request)
        return found if isinstance(found, Response) else JSONResponse(show(request, found))

    async def cancel(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        found = find(request)
        if isinstance(found, Response):
            return found
        if found.cancelled is None and clock() < found.created + found.seconds:
            found.cancelled = clock()
        return JSONResponse(show(request, found))

    def cursor_url(request: Request, position: int) -> str:
        token = base64.urlsafe_b64encode(f"o{position}".encode()).decode().rstrip("=")
        return f"{_api_base(request)}/v1/predictions?cursor={token}"

    async def listing(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        offset = 0
        if cursor := request.query_params.get("cursor"):
            try:
                offset = int(base64.urlsafe_b64decode(cursor + "==").decode().removeprefix("o"))
            except ValueError:
                return _problem(400, "Invalid cursor")
        ordered = sorted(predictions.values(), key=lambda p: (p.created, p.seq), reverse=True)
        rows = []
        for prediction in ordered[offset : offset + page_size]:
            row = show(request, prediction)
            del row["logs"]  # the list leaves the logs out
            rows.append(row)
        more = offset + page_size < len(ordered)
        return JSONResponse(
            {
                "next": cursor_url(request, offset + page_size) if more else None,
                "previous": cursor_url(request, max(0, offset - page_size)) if offset else None,
                "results": rows,
            }
        )

    async def file(request: Request) -> Response:
        token = request.path_params["token"]
        for prediction in predictions.values():
            if prediction.file == token:
                state = show(request, prediction)
                if state["status"] == "succeeded" and not state["data_removed"]:
                    return Response(media.sample(Variant.VIDEO), media_type="video/mp4")
        return Response(b"Not Found", 404, media_type="text/plain")

    routes = Starlette(
        routes=[
            Route("/v1/models/{owner}/{name}/predictions", create_official, methods=["POST"]),
            Route("/v1/predictions", create_version, methods=["POST"]),
            Route("/v1/predictions", listing, methods=["GET"]),
            Route("/v1/predictions/{prediction_id}", retrieve, methods=["GET"]),
            Route("/v1/predictions/{prediction_id}/cancel", cancel, methods=["POST"]),
            Route("/xezq/{token}/output.mp4", file, methods=["GET"]),
        ]
    )
    return ReplicateEmulator(
        FaultMiddleware(routes, faults, error_body=error_body), predictions, received
    )


if __name__ == "__main__":
    main(create_app, description="Emulator of Replicate's predictions API", default_port=8102)
