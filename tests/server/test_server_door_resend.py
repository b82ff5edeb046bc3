"""Every front door tells an SDK which error answers it must not resend, as /v1 does."""

from __future__ import annotations

import pytest

from reelgate.errors import (
    ProviderError,
    RateLimitError,
    ReelgateError,
    VideoNotReadyError,
)
from reelgate.server.genai import google_error
from reelgate.server.runway import runway_error


@pytest.mark.parametrize("answer", [google_error, runway_error])
@pytest.mark.parametrize(
    ("error", "resend"),
    [
        (VideoNotReadyError("not ready"), False),
        (ProviderError("lost answer", ambiguous=True), False),
        (ProviderError("upstream 502"), True),
        (RateLimitError("slow down"), True),
    ],
)
def test_doors_say_when_not_to_resend(answer, error: ReelgateError, resend: bool) -> None:
    """409 and ambiguous answers carry x-should-retry: false; 5xx and 429 do not."""
    response = answer(error)
    assert ("x-should-retry" not in response.headers) is resend
    if not resend:
        assert response.headers["x-should-retry"] == "false"
