"""Answer a repeated service request with the reply it already got, instead of computing it again.

A client whose reply was lost sends the same request again: Fast DDS drops a response when the
client's reply reader is not matched yet ("failed to send response (timeout)", seen under load on
the first call of a fresh graph). Where the answer consumes randomness (sampling a prompt) a second
computation would give another answer, so a retried run would differ from one that was not retried;
the repeated request gets the stored reply instead. Only for services where an identical request can
only be a retry: select_prompt (every decision has its own episode and decision step). Not the
proposer: asking a VLM the same question twice is meant to draw again.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable


def message_key(message):
    """Return a hashable value equal for equal messages (CDR bytes are not: their padding is uninitialised)."""
    if hasattr(message, 'get_fields_and_field_types'):
        return tuple((name, message_key(getattr(message, name))) for name in message.get_fields_and_field_types())
    if isinstance(message, (list, tuple)) or hasattr(message, 'tolist'):
        items = message.tolist() if hasattr(message, 'tolist') else message
        return tuple(message_key(item) for item in items)
    return message


class RepeatLastReply:
    """Wrap a service callback: a request identical to one of the last few gets that one's reply.

    A few, not one: another client's request between a call and its retry must not evict it.
    """

    def __init__(self, callback: Callable, remember: int = 8):
        self._callback = callback
        self._remember = int(remember)
        self._lock = threading.Lock()
        self._replies: OrderedDict[tuple, object] = OrderedDict()
        self.repeats = 0  # requests answered from a stored reply

    def __call__(self, request, response):
        key = message_key(request)
        with self._lock:
            if key in self._replies:
                self.repeats += 1
                return self._replies[key]
            reply = self._callback(request, response)
            # A refusal or failure is computed afresh on a retry: it may not happen again.
            if getattr(reply, 'success', True):
                self._replies[key] = reply
                while len(self._replies) > self._remember:
                    self._replies.popitem(last=False)
            return reply
