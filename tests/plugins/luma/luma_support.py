"""What the Luma plugin's tests share: constants and a clock they drive by hand."""

from __future__ import annotations

import attrs

KEY = "luma-test-key-0123456789abcdef"
KEY_ENV = "REELGATE_TEST_LUMA_KEY"
INSTANCE = "luma"
BASE_URL = "http://api.luma.test"
JOB_SECONDS = 10.0


@attrs.define
class Clock:
    """A clock the tests move by hand."""

    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now
