"""Retry timing of the HTTP backends (policy server; the VLM client retries through the openai SDK).

Which failures are transient is decided by the client (httpx's transport errors and timeouts, a
5xx or 429 status); how long to wait between attempts is decided here, in one place.
"""
from __future__ import annotations


def backoff_delay(backoff_s: float, attempt: int) -> float:
    """Return the pause before attempt number `attempt` (1 = the first retry): exponential."""
    return backoff_s * 2 ** (attempt - 1) if attempt > 0 else 0.0
