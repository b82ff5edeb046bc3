"""
An emulator of Veo on the Gemini API and on Vertex AI, with Google's OAuth2 token endpoint.

It is an ASGI app with scriptable faults.

Run it with ``python -m reelgate_gemini.emulator --port 8091`` and point a client at
``http://127.0.0.1:8091/`` (``GOOGLE_GEMINI_BASE_URL``, ``GOOGLE_VERTEX_BASE_URL``, or
``HttpOptions(base_url=...)`` of the official SDK). Like the real services it answers
success with HTTP 200 only, leaves ``done`` out while an operation runs, and speaks
Google's error envelope ``{"error": {"code", "message", "status", "details"}}``.

Gemini API (the key in ``x-goog-api-key`` or ``?key=``):

* ``POST /v1beta/models/{model}:predictLongRunning``
  -> ``{"name": "models/{model}/operations/{id}"}``
* ``GET /v1beta/models/{model}/operations/{id}`` -> the operation; samples are files
  ``https://{host}/v1beta/files/{id}:download?alt=media`` (https because the official SDK
  recognises only https file URIs; it, like reelgate, then downloads from its own base URL)
* ``GET /v1beta/files/{id}:download?alt=media`` -> 302 to ``/blob/{id}?sig=...`` on the
  asset host (`reelgate.emulation.asset_origin`, another name for this server), a signed
  URL that serves the MP4 without the key

Vertex AI (a bearer token from ``/token``, or an API key), under ``/v1`` or ``/v1beta1``:

* ``POST .../projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning``
* ``POST .../publishers/google/models/{m}:fetchPredictOperation`` ``{"operationName": ...}``;
  a finished operation carries the video inline (base64), or a ``gs://`` URI when the
  request set ``storageUri``

OAuth2: ``POST /token`` exchanges a service account's signed JWT assertion (grant type
``urn:ietf:params:oauth:grant-type:jwt-bearer``) for an access token. The emulator checks
the assertion's shape and claims, not its signature.

Operations are visible only to the credential that created them (a key stands for its
project). Jobs finish after ``job_seconds``; a prompt containing ``[emulate:fail]`` ends
with an operation error, ``[emulate:filter]`` is RAI-filtered, ``[emulate:slow]`` takes a
minute. Unknown request fields are refused, as Google's JSON parser refuses them.
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
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, asset_origin, directives, main
from reelgate.model import Variant

__all__ = ["CreateRecord", "GoogleEmulator", "create_app", "error_body"]

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FILTER_REASON = (
    "Sorry, we can't create videos from input images containing celebrity or their likenesses. "
    "Please remove the reference and try again."
)
_GEMINI_RESPONSE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
_VERTEX_RESPONSE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"


def error_body(status: int, message: str, details: list[Any] | None = None) -> bytes:
    """Google's error envelope for an HTTP status."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return json.dumps({"error": error}).encode()


def _error(status: int, message: str, details: list[Any] | None = None) -> Response:
    return Response(error_body(status, message, details), status, media_type="application/json")


def _unknown_field(name: str, where: str) -> Response:
    at = f" at '{where}'" if where else ""
    message = f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
    violation = {"field": where, "description": message}
    return _error(
        400,
        message,
        [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}],
    )


@attrs.frozen
class _Schema:
    """What one API accepts in a predictLongRunning body."""

    top: frozenset[str]
    instance: frozenset[str]
    parameters: frozenset[str]
    image: frozenset[str]
    vertex: bool


_GEMINI_PARAMETERS = frozenset(
    {
        "aspectRatio",
        "durationSeconds",
        "enhancePrompt",
        "negativePrompt",
        "personGeneration",
        "resolution",
        "sampleCount",
    }
)
_GEMINI = _Schema(
    top=frozenset({"instances", "parameters", "webhookConfig"}),
    instance=frozenset({"prompt", "image", "video", "lastFrame", "referenceImages"}),
    parameters=_GEMINI_PARAMETERS,
    image=frozenset({"bytesBase64Encoded", "mimeType"}),
    vertex=False,
)
_VERTEX = _Schema(
    top=frozenset({"instances", "parameters", "labels"}),
    instance=frozenset({"prompt", "image", "video", "lastFrame", "referenceImages", "mask"}),
    parameters=_GEMINI_PARAMETERS
    | {
        "compressionQuality",
        "fps",
        "generateAudio",
        "pubsubTopic",
        "resizeMode",
        "seed",
        "storageUri",
    },
    image=frozenset({"bytesBase64Encoded", "gcsUri", "mimeType"}),
    vertex=True,
)


def _integer(value: Any) -> int | None:
    """A proto3 JSON integer: a number, or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _check_image(image: Any, where: str, schema: _Schema) -> Response | None:
    if not isinstance(image, Mapping):
        return _error(400, f"Invalid value at '{where}': expected an image object.")
    for name in image:
        if name not in schema.image:
            return _unknown_field(name, where)
    data = image.get("bytesBase64Encoded")
    if (data is None) == (image.get("gcsUri") is None):
        return _error(400, f"{where}: exactly one of bytesBase64Encoded or gcsUri is required.")
    if data is not None:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError, TypeError):
            return _error(400, f"Invalid value at '{where}.bytesBase64Encoded': invalid base64.")
    mime = image.get("mimeType")
    if not isinstance(mime, str) or not mime.startswith("image/"):
        return _error(400, f"{where}.mimeType must be an image type, e.g. image/png.")
    return None


def _check_references(references: Any, where: str, schema: _Schema) -> Response | None:
    if not isinstance(references, list) or len(references) > 3:
        return _error(400, f"{where}: at most 3 reference images are allowed.")
    kinds = ("asset", "style") if schema.vertex else ("asset",)
    for i, reference in enumerate(references):
        kind = reference.get("referenceType") if isinstance(reference, Mapping) else None
        if not isinstance(kind, str) or kind.lower() not in kinds:
            return _error(400, f"{where}[{i}].referenceType is not supported.")
        if problem := _check_image(reference.get("image"), f"{where}[{i}].image", schema):
            return problem
    return None


def _check_instance(instance: Any, schema: _Schema) -> Response | None:  # noqa: PLR0911  # first complaint wins
    where = "instances[0]"
    if not isinstance(instance, Mapping):
        return _error(400, f"Invalid value at '{where}': expected an object.")
    if unknown := [name for name in instance if name not in schema.instance]:
        return _unknown_field(unknown[0], where)
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return _error(400, f"Invalid value at '{where}.prompt': expected a string.")
    if not prompt and "image" not in instance:
        return _error(400, "A text prompt or an input image is required.")
    for name in ("image", "lastFrame"):
        if name in instance and (
            problem := _check_image(instance[name], f"{where}.{name}", schema)
        ):
            return problem
    if problem := _check_references(
        instance.get("referenceImages", []), f"{where}.referenceImages", schema
    ):
        return problem
    video = instance.get("video")
    wanted = "gcsUri" if schema.vertex else "uri"
    if video is not None and not (
        isinstance(video, Mapping) and isinstance(video.get(wanted), str)
    ):
        return _error(400, f"{where}.video must name a video by {wanted}.")
    return None


def _within(low: int, high: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        number = _integer(value)
        return number is not None and low <= number <= high

    return check


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


#: Each parameter's check, and what Google says when it fails.
_PARAMETER_CHECKS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "durationSeconds": (
        _within(4, 8),
        "The video duration must be between 4 and 8 seconds, inclusive.",
    ),
    "sampleCount": (_within(1, 4), "sampleCount must be between 1 and 4."),
    "seed": (_within(0, 2**32 - 1), "seed must be an unsigned 32-bit integer."),
    "aspectRatio": (_one_of("16:9", "9:16"), "Unsupported aspectRatio. Supported: 16:9, 9:16."),
    "resolution": (
        _one_of("720p", "1080p", "4k"),
        "Unsupported resolution. Supported: 720p, 1080p, 4k.",
    ),
    "personGeneration": (
        _one_of("allow_all", "allow_adult", "dont_allow"),
        "Unsupported personGeneration. Supported: allow_all, allow_adult, dont_allow.",
    ),
    "enhancePrompt": (lambda v: isinstance(v, bool), "enhancePrompt must be a boolean."),
    "generateAudio": (lambda v: isinstance(v, bool), "generateAudio must be a boolean."),
    "negativePrompt": (lambda v: isinstance(v, str), "negativePrompt must be a string."),
    "storageUri": (
        lambda v: isinstance(v, str) and v.startswith("gs://"),
        "storageUri must be a gs:// URI.",
    ),
}


def _check_parameters(parameters: Any, schema: _Schema) -> Response | None:
    if not isinstance(parameters, Mapping):
        return _error(400, "Invalid value at 'parameters': expected an object.")
    for name, value in parameters.items():
        if name not in schema.parameters:
            return _unknown_field(name, "parameters")
        check, message = _PARAMETER_CHECKS.get(name, (lambda _v: True, ""))
        if not check(value):
            return _error(400, message)
    return None


def _check_body(body: Any, schema: _Schema) -> Response | None:
    if not isinstance(body, Mapping):
        return _error(400, "Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in schema.top:
            return _unknown_field(name, "")
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        return _error(400, "instances must hold exactly one instance.")
    if problem := _check_instance(instances[0], schema):
        return problem
    return _check_parameters(body.get("parameters", {}), schema)


@attrs.frozen
class CreateRecord:
    """
    A create the emulator accepted, as it received it.

    Attributes:
        api: ``gemini`` or ``vertex``.
        path: The request's path.
        body: The JSON body.
    """

    api: str
    path: str
    body: Mapping[str, Any]


@attrs.define
class _Job:
    name: str
    vertex: bool
    principal: str
    created: float
    seconds: float
    outcome: str
    files: list[str]
    storage_uri: str | None

    def operation(self, now: float, host: str) -> dict[str, Any]:
        if now - self.created < self.seconds:
            return {"name": self.name}
        done: dict[str, Any] = {"name": self.name, "done": True}
        if self.outcome == "fail":
            return {
                **done,
                "error": {
                    "code": 13,
                    "message": "Video generation failed due to an internal error.",
                },
            }
        result: dict[str, Any]
        if self.outcome == "filter":
            result = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [_FILTER_REASON]}
        elif self.vertex:
            op_id = self.name.rsplit("/", 1)[-1]
            videos = [
                {
                    "gcsUri": f"{self.storage_uri.rstrip('/')}/{op_id}/sample_{i}.mp4",
                    "mimeType": "video/mp4",
                }
                if self.storage_uri
                else {
                    "bytesBase64Encoded": base64.b64encode(media.sample(Variant.VIDEO)).decode(),
                    "mimeType": "video/mp4",
                }
                for i in range(len(self.files))
            ]
            result = {"raiMediaFilteredCount": 0, "videos": videos}
        else:
            samples = [
                {"video": {"uri": f"https://{host}/v1beta/files/{f}:download?alt=media"}}
                for f in self.files
            ]
            result = {"generatedSamples": samples}
        if self.vertex:
            return {**done, "response": {"@type": _VERTEX_RESPONSE, **result}}
        return {**done, "response": {"@type": _GEMINI_RESPONSE, "generateVideoResponse": result}}


class GoogleEmulator(FaultMiddleware):
    """
    The emulator: a `FaultMiddleware` over its routes, with what it received.

    Attributes:
        faults: The fault script, and every request seen.
        creates: Every create it accepted, in order, as received.
    """

    def __init__(self, app: Any, faults: Faults | None, creates: list[CreateRecord]) -> None:
        super().__init__(app, faults, error_body=error_body)
        self.creates = creates


def _alnum(n: int = 12) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _b64url(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def create_app(  # one closure per route keeps the emulator in one place
    *,
    job_seconds: float = 3.0,
    faults: Faults | None = None,
    api_keys: Collection[str] | None = None,
    token_seconds: int = 3599,
    blob_base_url: str | None = None,
) -> GoogleEmulator:
    """
    A fresh emulator with its own jobs, files and tokens.

    Args:
        job_seconds: How long a job takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        api_keys: The keys it accepts (any non-empty key when None); others get Google's
            400 ``API_KEY_INVALID``.
        token_seconds: The lifetime of the access tokens it issues.
        blob_base_url: Where file downloads redirect to (default: its own ``/blob/`` on
            `reelgate.emulation.asset_origin`, another host name for this server).
    """
    jobs: dict[str, _Job] = {}
    files: dict[str, _Job] = {}
    tokens: dict[str, tuple[str, float]] = {}
    creates: list[CreateRecord] = []
    signing_key = secrets.token_bytes(32)

    def signature(file_id: str) -> str:
        return hmac.new(signing_key, file_id.encode(), hashlib.sha256).hexdigest()

    def api_key(request: Request) -> str | None:
        return request.headers.get("x-goog-api-key") or request.query_params.get("key") or None

    def check_key(key: str) -> Response | None:
        if api_keys is not None and key not in api_keys:
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            return _error(400, "API key not valid. Please pass a valid API key.", [info])
        return None

    def gemini_principal(request: Request) -> str | Response:
        key = api_key(request)
        if key is None:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        return check_key(key) or f"key:{key}"

    def vertex_principal(request: Request) -> str | Response:
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            issued = tokens.get(authorization[7:].strip())
            if issued is None or issued[1] < time.time():
                return _error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                )
            return f"account:{issued[0]}"
        key = api_key(request)
        if key is None:
            return _error(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        return check_key(key) or f"key:{key}"

    async def json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            return None

    def start(
        request: Request, body: Any, *, name_prefix: str, principal: str, vertex: bool
    ) -> Response:
        instance = body["instances"][0]
        parameters = body.get("parameters", {})
        flags = directives(instance.get("prompt"))
        name = f"{name_prefix}/operations/{uuid.uuid4() if vertex else _alnum()}"
        job = _Job(
            name=name,
            vertex=vertex,
            principal=principal,
            created=time.monotonic(),
            seconds=60.0 if "slow" in flags else job_seconds,
            outcome="fail" if "fail" in flags else "filter" if "filter" in flags else "ok",
            files=[_alnum() for _ in range(_integer(parameters.get("sampleCount", 1)) or 1)],
            storage_uri=parameters.get("storageUri"),
        )
        jobs[name] = job
        if not vertex and job.outcome == "ok":
            files.update(dict.fromkeys(job.files, job))
        creates.append(CreateRecord("vertex" if vertex else "gemini", request.url.path, body))
        return JSONResponse({"name": name})

    def visible(name: str, principal: str) -> _Job | Response:
        job = jobs.get(name)
        if job is None or job.principal != principal:
            return _error(404, f"Operation not found: {name}")
        return job

    # -- Gemini API ------------------------------------------------------------------

    async def gemini_create(request: Request) -> Response:
        principal = gemini_principal(request)
        if isinstance(principal, Response):
            return principal
        model = request.path_params["model"]
        if not model.startswith("veo-"):
            return _error(
                404,
                f"models/{model} is not found for API version v1beta, "
                "or is not supported for predictLongRunning.",
            )
        body = await json_body(request)
        if problem := _check_body(body, _GEMINI):
            return problem
        return start(
            request, body, name_prefix=f"models/{model}", principal=principal, vertex=False
        )

    async def gemini_operation(request: Request) -> Response:
        principal = gemini_principal(request)
        if isinstance(principal, Response):
            return principal
        job = visible(
            f"models/{request.path_params['model']}/operations/{request.path_params['op']}",
            principal,
        )
        if isinstance(job, Response):
            return job
        return JSONResponse(job.operation(time.monotonic(), request.url.netloc))

    async def gemini_download(request: Request) -> Response:
        principal = gemini_principal(request)
        if isinstance(principal, Response):
            return principal
        file_id = request.path_params["file"]
        job = files.get(file_id)
        if (
            job is None
            or job.principal != principal
            or job.operation(time.monotonic(), "")["done"] is not True
        ):
            return _error(404, f"File {file_id} not found.")
        if request.query_params.get("alt") != "media":
            return _error(400, "Downloads need alt=media.")
        base = (blob_base_url or asset_origin(str(request.base_url))).rstrip("/")
        return RedirectResponse(f"{base}/blob/{file_id}?sig={signature(file_id)}", status_code=302)

    async def blob(request: Request) -> Response:
        file_id = request.path_params["file"]
        if not hmac.compare_digest(request.query_params.get("sig", ""), signature(file_id)):
            return _error(403, "The signature of this URL is not valid.")
        if file_id not in files:
            return _error(404, f"File {file_id} not found.")
        body = media.sample(Variant.VIDEO)
        return Response(body, media_type="video/mp4")

    # -- Vertex AI -------------------------------------------------------------------

    def vertex_model_path(request: Request) -> str:
        p = request.path_params
        where = f"projects/{p['project']}/locations/{p['location']}"
        return f"{where}/publishers/google/models/{p['model']}"

    def vertex_principal_at(request: Request) -> str | Response:
        if request.path_params["version"] not in ("v1", "v1beta1"):
            return _error(404, f"API version {request.path_params['version']} is not served.")
        return vertex_principal(request)

    async def vertex_create(request: Request) -> Response:
        principal = vertex_principal_at(request)
        if isinstance(principal, Response):
            return principal
        if not request.path_params["model"].startswith("veo-"):
            return _error(404, f"Publisher Model `{vertex_model_path(request)}` not found.")
        body = await json_body(request)
        if problem := _check_body(body, _VERTEX):
            return problem
        return start(
            request, body, name_prefix=vertex_model_path(request), principal=principal, vertex=True
        )

    async def vertex_fetch(request: Request) -> Response:
        principal = vertex_principal_at(request)
        if isinstance(principal, Response):
            return principal
        body = await json_body(request)
        if not isinstance(body, Mapping) or set(body) - {"operationName"}:
            return _error(400, 'The body must be {"operationName": ...}.')
        name = body.get("operationName")
        if not isinstance(name, str) or not name.startswith(
            f"{vertex_model_path(request)}/operations/"
        ):
            return _error(400, "operationName must name an operation of this model.")
        job = visible(name, principal)
        if isinstance(job, Response):
            return job
        return JSONResponse(job.operation(time.monotonic(), request.url.netloc))

    # -- OAuth2 ----------------------------------------------------------------------

    def oauth_error(error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description}, status_code=400)

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("latin-1")).items()}
        if form.get("grant_type") != _JWT_BEARER:
            return oauth_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}"
            )
        try:
            header_part, payload_part, signature_part = form.get("assertion", "").split(".")
            header, claims = _b64url(header_part), _b64url(payload_part)
        except (ValueError, TypeError, binascii.Error):
            return oauth_error("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
        now = time.time()
        if not isinstance(header, dict) or header.get("alg") != "RS256" or not signature_part:
            return oauth_error(
                "invalid_grant", "Invalid JWT: the assertion must be signed with RS256."
            )
        if not isinstance(claims, dict) or not all(
            isinstance(claims.get(c), str) for c in ("iss", "aud")
        ):
            return oauth_error("invalid_grant", "Invalid JWT: iss and aud are required.")
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int | float)
            or not isinstance(expires, int | float)
            or expires < now - 60
        ):
            return oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
            )
        access = f"ya29.emulated-{secrets.token_urlsafe(32)}"
        tokens[access] = (str(claims["iss"]), now + token_seconds)
        return JSONResponse(
            {"access_token": access, "expires_in": token_seconds, "token_type": "Bearer"}
        )

    vertex_prefix = (
        "/{version:str}/projects/{project}/locations/{location}/publishers/google/models/{model}"
    )
    routes = Starlette(
        routes=[
            Route("/v1beta/models/{model}:predictLongRunning", gemini_create, methods=["POST"]),
            Route("/v1beta/models/{model}/operations/{op}", gemini_operation, methods=["GET"]),
            Route("/v1beta/files/{file}:download", gemini_download, methods=["GET"]),
            Route("/blob/{file}", blob, methods=["GET"]),
            Route(f"{vertex_prefix}:predictLongRunning", vertex_create, methods=["POST"]),
            Route(f"{vertex_prefix}:fetchPredictOperation", vertex_fetch, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
        ]
    )
    return GoogleEmulator(routes, faults, creates)


def _cli(argv: list[str] | None = None) -> None:
    main(
        create_app,
        description="Emulator of Veo on the Gemini API and Vertex AI",
        default_port=8091,
        argv=argv,
        job_seconds=3.0,
    )


if __name__ == "__main__":
    _cli()
