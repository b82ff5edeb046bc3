"""What the fal plugin's tests share besides fixtures: the test instance and a clock."""

from __future__ import annotations

from typing import Any

import reelgate
from reelgate.config import Secret

KEY = "fal-test-key-0123456789abcdef"
KEY_ENV = "REELGATE_FAL_TEST_KEY"
INSTANCE = "falq"
JOB_SECONDS = 10.0
START = 1_795_000_000.25


class Clock:
    """The emulator's time, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds


def call(
    operation: str, model: str | None = None, state: dict[str, Any] | None = None
) -> reelgate.Call:
    """A provider call of the test instance, with the test key and a job's state."""
    return reelgate.Call(
        instance=INSTANCE,
        operation=operation,
        key=Secret(KEY, name=KEY_ENV),
        model=model,
        job_state=state,
    )
