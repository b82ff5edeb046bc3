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
from .limits import KeyLimits
from .runway import RunwayDoor

__all__ = ["front_doors"]


def front_doors(
    gateway: Gateway, keys: ServerKeys, max_body_bytes: int, limits: KeyLimits
) -> list[BaseRoute]:
    """The routes of every front door, with the server's keys, body cap and per-key caps."""
    context = DoorContext(gateway, keys, max_body_bytes, limits)
    return [DoorRoute("/genai", GoogleDoor(context)), DoorRoute("/runway", RunwayDoor(context))]
