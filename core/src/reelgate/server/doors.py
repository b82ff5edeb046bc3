"""
The front doors the server mounts beside ``/v1/videos``: ``/genai`` and ``/runway``.

Each speaks one provider's wire and translates it into the gateway calls ``/v1/videos``
makes (`reelgate.server.genai`, `reelgate.server.runway`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..gateway import Gateway
from .auth import ServerKeys
from .door import DoorContext, DoorRoute
from .genai import GoogleDoor
from .runway import RunwayDoor

__all__ = ["front_doors"]


def front_doors(gateway: Gateway, keys: ServerKeys, max_body_bytes: int) -> list[BaseRoute]:
    """The routes of every front door, over `gateway` with the server's keys and body cap."""
    context = DoorContext(gateway, keys, max_body_bytes)
    return [DoorRoute("/genai", GoogleDoor(context)), DoorRoute("/runway", RunwayDoor(context))]
