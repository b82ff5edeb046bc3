"""What the Runway plugin's tests share besides fixtures: the test instance and a clock."""

from __future__ import annotations

import reelgate
from reelgate.config import Secret

KEY = "key_runway-test-0123456789abcdef"
KEY_ENV = "REELGATE_RUNWAY_TEST_KEY"
INSTANCE = "rw"
BASE_URL = "http://emulator.test"
#: An emulated task's length: a tenth PENDING, THROTTLED until a quarter, then RUNNING.
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


def call(operation: str, model: str | None = None) -> reelgate.Call:
    """A provider call of the test instance, with the test key."""
    return reelgate.Call(
        instance=INSTANCE, operation=operation, key=Secret(KEY, name=KEY_ENV), model=model
    )


def fast_retry() -> dict[str, float]:
    """A retry policy that waits milliseconds, not seconds."""
    return {
        "attempts": 3,
        "timeout": 10.0,
        "wait_initial": 0.01,
        "wait_max": 0.05,
        "wait_jitter": 0.0,
    }
