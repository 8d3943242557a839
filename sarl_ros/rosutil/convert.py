"""Between the ROS-free core types and the sarl_ros messages."""
from __future__ import annotations

import numpy as np

from sarl_ros.core.mdp import Candidate
from sarl_ros.core.scene_view import SeenObject
from sarl_ros.msg import CandidateSet, SemanticAction, SeenObject as SeenObjectMsg, Transition as TransitionMsg


def candidate_to_msg(c: Candidate) -> SemanticAction:
    return SemanticAction(prompt=c.prompt, source=c.source)


def candidates_from_msgs(actions, vlm_scores=()) -> list[Candidate]:
    scores = list(vlm_scores)
    if scores and len(scores) != len(actions):
        raise ValueError(f'{len(scores)} VLM scores for {len(actions)} candidates')
    return [Candidate(a.prompt, a.source or SemanticAction.SOURCE_VLM, float(scores[i]) if scores else 0.0)
            for i, a in enumerate(actions)]


def features_array(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError('state features contain NaN or inf')
    return arr


def decision_to_msg(decision, candidates, *, episode, step, task, method) -> CandidateSet:
    return CandidateSet(
        episode=episode, decision_step=step, task=task, method=method,
        candidates=[candidate_to_msg(c) for c in candidates],
        q_values=[float(q) for q in decision.q_values],
        probabilities=[float(p) for p in decision.probabilities],
        chosen_index=int(decision.index), temperature=float(decision.temperature),
        greedy=bool(decision.greedy))


def transition_to_msg(t, *, task: str, source: str) -> TransitionMsg:
    return TransitionMsg(
        episode=t.episode, decision_step=t.step, task=task,
        state_features=[float(x) for x in t.state],
        action=SemanticAction(prompt=t.prompt, source=source), reward=float(t.reward),
        control_steps=int(t.control_steps),
        next_state_features=[float(x) for x in t.next_state],
        next_candidates=[SemanticAction(prompt=p, source=SemanticAction.SOURCE_VLM) for p in t.next_prompts],
        terminal=bool(t.terminal), truncated=bool(getattr(t, 'truncated', False)))


def transition_from_msg(msg):
    """Return the core Transition a message describes (replay, re-training)."""
    from sarl_ros.core.mdp import Transition
    return Transition(state=features_array(msg.state_features), prompt=msg.action.prompt,
                      reward=float(msg.reward), next_state=features_array(msg.next_state_features),
                      next_prompts=tuple(a.prompt for a in msg.next_candidates),
                      terminal=bool(msg.terminal), control_steps=int(msg.control_steps),
                      episode=int(msg.episode), step=int(msg.decision_step), truncated=bool(msg.truncated))


def seen_object_to_msg(o: SeenObject) -> SeenObjectMsg:
    return SeenObjectMsg(name=o.name, kind=o.kind, colour=o.colour, image_x=float(o.image_x), size=o.size or '',
                         inside=o.inside or '', held=bool(o.held))


def seen_objects_from_msgs(msgs) -> tuple[SeenObject, ...]:
    """Return the scene view a message list carries (exactly the executor's: image_x travels as float64)."""
    return tuple(SeenObject(name=m.name, kind=m.kind, colour=m.colour, image_x=float(m.image_x),
                            size=m.size or None, inside=m.inside or None, held=bool(m.held)) for m in msgs)
