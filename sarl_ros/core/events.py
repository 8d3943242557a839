"""Kinds of episode events: the one list the episode manager, the Q-policy node and the recordings share.

The values are those of msg/EpisodeEvent.msg (a test keeps the two equal).
"""
from __future__ import annotations

from enum import IntEnum


class EventKind(IntEnum):
    START = 0
    RESET_REQUESTED = 1
    RESET_DONE = 2
    SUCCESS = 3
    FAILURE = 4  # the task can no longer succeed (failed for good)
    TIMEOUT = 5  # the decision budget ran out
    ABORTED = 6  # stopped by an operator
    PAUSED = 7  # waiting for the operator

    @property
    def label(self) -> str:
        return self.name.lower()


END_KINDS = (EventKind.SUCCESS, EventKind.FAILURE, EventKind.TIMEOUT, EventKind.ABORTED)

# sarl_ros.core.episode_loop.EpisodeResult.end -> the event that ends the episode
BY_EPISODE_END = {'success': EventKind.SUCCESS, 'failed': EventKind.FAILURE, 'timeout': EventKind.TIMEOUT,
                  'aborted': EventKind.ABORTED}

# Details of PAUSED (and RESET_REQUESTED) events that say what the run waits for from a person; the
# operator console turns them into its "needs you" line. The episode manager and the reward node
# send them, with extra words after the prefix (e.g. "... for 30 s").
WAITING_FOR_RESET = 'waiting for the operator to reset the scene'
WAITING_FOR_VERDICT = 'waiting for a verdict: success (s) or failure (f)'
WAITING_FOR_RELEASE = 'emergency stop engaged: release it to continue'
PAUSED_BY_OPERATOR = 'paused by the operator'
# Detail of the end event the episode manager publishes again when the operator corrects a verdict
# (the learner does not end the episode a second time; the records take the new outcome).
CORRECTED_BY_OPERATOR = 'corrected by the operator'
