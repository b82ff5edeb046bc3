"""
/openapi.json: valid OpenAPI 3.1, every route described, and the seeds' schemas kept.

``data/bifrost_video_list.openapi.json`` is the reference gateway's published OpenAPI
description of ``GET /v1/videos`` with the shared schemas it references (from its
documentation, spec/seeds/001), converted from YAML to JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from reelgate.server.openapi import openapi_document

SEED = json.loads((Path(__file__).parent / "data" / "bifrost_video_list.openapi.json").read_text())

ROUTES = {
    ("/health", "get"),
    ("/openapi.json", "get"),
    *(
        (prefix + path, method)
        for prefix in ("/v1/videos", "/openai/v1/videos")
        for path, method in [
            ("", "post"),
            ("", "get"),
            ("/{video_id}", "get"),
            ("/{video_id}", "delete"),
            ("/{video_id}/content", "get"),
            ("/{video_id}/remix", "post"),
        ]
    ),
    # The front doors: Google's video wire and Runway's task wire.
    ("/genai/v1beta/models/{instance}/{model}:predictLongRunning", "post"),
    ("/genai/v1beta/models/{instance}/{model}/operations/{operation}", "get"),
    *(
        (f"/genai/{{version}}/{scope}publishers/{{instance}}/models/{{model}}:{action}", "post")
        for scope in ("", "projects/{project}/locations/{location}/")
        for action in ("predictLongRunning", "fetchPredictOperation")
    ),
    ("/genai/{version}/files/{file}:download", "get"),
    ("/runway/v1/text_to_video", "post"),
    ("/runway/v1/image_to_video", "post"),
    ("/runway/v1/video_to_video", "post"),
    ("/runway/v1/tasks/{id}", "get"),
    ("/runway/v1/tasks/{id}", "delete"),
    ("/runway/_outputs/{token}", "get"),
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref."""
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def same_shape(
    ours_doc: dict[str, Any], ours: dict[str, Any], seed: dict[str, Any], where: str
) -> None:
    """
    Every property the seed's schema has, ours has with the same type and format.

    The one exception is ModelProvider's list of names (see the test below).
    """
    provider = seed.get("$ref") == "#/components/schemas/ModelProvider"
    ours, seed = resolve(ours_doc, ours), resolve(SEED, seed)
    for key in ("type", "format", "minimum", "maximum", "default"):
        if key in seed:
            assert ours.get(key) == seed[key], f"{where}: {key}"
    if "enum" in seed and not provider:
        assert ours["enum"] == seed["enum"], where
    for name, prop in seed.get("properties", {}).items():
        assert name in ours.get("properties", {}), f"{where}.{name} is missing"
        same_shape(ours_doc, ours["properties"][name], prop, f"{where}.{name}")
    if "items" in seed:
        same_shape(ours_doc, ours["items"], seed["items"], f"{where}[]")


@pytest.mark.parametrize("auth", [False, True])
def test_valid_openapi_31(auth: bool) -> None:
    """The document validates against the OpenAPI 3.1 schema."""
    document = openapi_document(auth=auth)
    assert document["openapi"] == "3.1.0"
    errors = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert errors == []


def test_every_route_is_described() -> None:
    """Each route the server serves has an operation, with a distinct operationId."""
    document = openapi_document(auth=True)
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert described == ROUTES
    ids = [document["paths"][p][m]["operationId"] for p, m in ROUTES]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "name",
    ["BifrostResponseExtraFields", "BifrostError", "ErrorField", "BifrostErrorExtraFields"],
)
def test_shared_schemas_match_the_seeds(name: str) -> None:
    """extra_fields, the error body and its parts have the seeds' fields and types."""
    document = openapi_document(auth=False)
    same_shape(
        document,
        document["components"]["schemas"][name],
        SEED["components"]["schemas"][name],
        name,
    )


def test_model_provider_is_any_instance_name() -> None:
    """ModelProvider keeps the seeds' names as examples but accepts any instance (sim)."""
    ours = openapi_document(auth=False)["components"]["schemas"]["ModelProvider"]
    seed = SEED["components"]["schemas"]["ModelProvider"]
    assert ours["type"] == seed["type"] == "string"
    assert "enum" not in ours
    assert ours["examples"] == seed["enum"]


def test_list_operation_matches_the_seed() -> None:
    """GET /v1/videos: the seed's parameters and response shape, and the same security."""
    document = openapi_document(auth=True)
    ours = document["paths"]["/v1/videos"]["get"]
    seed = SEED["paths"]["/v1/videos"]["get"]
    assert ours["operationId"] == seed["operationId"]
    by_name = {p["name"]: p for p in ours["parameters"]}
    for parameter in seed["parameters"]:
        mine = by_name[parameter["name"]]
        assert (mine["in"], mine["required"]) == (parameter["in"], parameter["required"])
        same_shape(document, mine["schema"], parameter["schema"], parameter["name"])
    same_shape(
        document,
        ours["responses"]["200"]["content"]["application/json"]["schema"],
        seed["responses"]["200"]["content"]["application/json"]["schema"],
        "VideoList",
    )
    for status in ("400", "500"):
        schema = ours["responses"][status]["content"]["application/json"]["schema"]
        assert schema == seed["responses"][status]["content"]["application/json"]["schema"]
    seed_schemes = {name for option in seed["security"] for name in option}
    ours_schemes = {name for option in document["security"] for name in option}
    assert ours_schemes == seed_schemes - {"BasicAuth"}


def test_video_object_has_the_retrieve_seeds_fields() -> None:
    """The video object has every field of the retrieve and create seeds (003, 004)."""
    video = openapi_document(auth=False)["components"]["schemas"]["Video"]["properties"]
    assert set(video) == {
        "id", "object", "model", "status", "progress", "prompt", "remixed_from_video_id",
        "seconds", "size", "created_at", "completed_at", "expires_at", "videos", "error",
        "content_filter", "extra_fields",
    }  # fmt: skip


@pytest.mark.anyio
async def test_served_document(server: str) -> None:
    """GET /openapi.json serves the document for the server's configuration."""
    async with httpx2.AsyncClient(base_url=server) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document(auth=False)
