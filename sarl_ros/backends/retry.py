"""Retry policy of the HTTP backends (policy server, VLM endpoint): what is transient, how long to wait.

Kept apart from the clients so the policy reads in one place: a refused, reset or dropped
connection, a timeout, and a response cut short (http.client.IncompleteRead, a bad status
line) are worth another attempt; an HTTP error status is the caller's to judge.
"""
from __future__ import annotations

import http.client
import urllib.error

TRANSIENT_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError)


def backoff_delay(backoff_s: float, attempt: int) -> float:
    """Return the pause before attempt number `attempt` (1 = the first retry): exponential."""
    return backoff_s * 2 ** (attempt - 1) if attempt > 0 else 0.0


def describe_failure(exc: BaseException) -> str:
    """Return 'Type: reason' of a transient failure (URLError wraps the socket error in .reason)."""
    reason = getattr(exc, 'reason', None) or exc
    return f'{type(reason).__name__}: {reason}'
