"""What the Kling plugin's tests share: keys, a clock they drive, a token reader."""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs

ACCESS = "ak-kling-test-0123456789"
SECRET = "sk-kling-test-secret-9876543210"
ACCESS_ENV = "REELGATE_TEST_KLING_ACCESS"
SECRET_ENV = "REELGATE_TEST_KLING_SECRET"
INSTANCE = "kling"
BASE_URL = "http://api.kling.test"
JOB_SECONDS = 10.0


@attrs.define
class Clock:
    """A clock the tests move by hand."""

    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def claims(authorization: str) -> dict[str, Any]:
    """The claims of the JWT in an ``Authorization: Bearer`` header."""
    token = authorization.removeprefix("Bearer ")
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]
