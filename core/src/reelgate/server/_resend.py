"""Which error answers an official SDK may resend: every front door says it the same way."""

from __future__ import annotations

from ..errors import ReelgateError

__all__ = ["resend_headers"]

_NO_RESEND = {"x-should-retry": "false"}


def worth_resending(error: ReelgateError, status: int) -> bool:
    """
    Whether an official SDK may resend the request that got this error.

    The OpenAI SDKs resend 408, 409, 429 and 5xx answers unless ``x-should-retry: false``
    says otherwise: a resent create after a lost answer is a second paid job, and a 409
    (not ready) or another 4xx answers the same way however often it is asked.
    """
    if error.ambiguous:
        return False
    if status in (408, 429):
        return True
    return status >= 500


def resend_headers(error: ReelgateError, status: int) -> dict[str, str]:
    """``x-should-retry: false`` when an SDK must not resend; no header otherwise."""
    return {} if worth_resending(error, status) else dict(_NO_RESEND)
