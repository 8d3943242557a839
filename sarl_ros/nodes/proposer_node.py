"""VLM proposer: a service returning candidate prompts for the current scene and task.

Candidates are normalised and deduplicated before they leave the node; a failing or slow
VLM answers with the last good candidate set of the task instead of stopping the episode.
"""
from __future__ import annotations

from rclpy.node import Node

from sarl_ros.backends import catalog
from sarl_ros.backends.catalog import PROPOSER_BACKENDS
from sarl_ros.backends.options import options_for
from sarl_ros.core.mdp import SOURCE_TASK, Candidate, Observation, StepOutcome
from sarl_ros.core.proposals import (CachedProposer, WithReturnToStart, normalize_candidates, normalize_prompt,
                                     with_task_prompt)
from sarl_ros.core.sarl.pool import InstructionPool, PooledProposer
from sarl_ros import names
from sarl_ros.node_configs import ProposerConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.convert import candidate_to_msg, features_array, seen_objects_from_msgs
from sarl_ros.rosutil.images import from_image_msg
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.srv import ProposePrompts


def make_proposer(p):
    return catalog.make_proposer(p.backend, **options_for(catalog.VLM, p.backend, vars(p), PROPOSER_BACKENDS).kwargs())


class ProposerNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('vlm_proposer', **node_options)
        self.p = declare_parameters(self, ProposerConfig)
        self.proposer = make_proposer(self.p)
        if self.p.offer_return_to_start:
            self.proposer = WithReturnToStart(self.proposer)
        if self.p.cache_max_reuses > 0:
            self.proposer = CachedProposer(self.proposer, resolution=self.p.cache_resolution,
                                           max_reuses=self.p.cache_max_reuses, memory_size=self.p.cache_memory_size,
                                           feature_dims=_indices(self.p.cache_feature_dims))
        self.last_good: dict[str, list] = {}
        # The previous request (episode, observation, history): the cache learns which prompt moved the state.
        self._previous: tuple[int, Observation, list[str]] | None = None
        self.create_service(ProposePrompts, names.SRV_PROPOSE, self._on_propose)
        self.get_logger().info(f'ready: backend={self.p.backend}')

    def _on_propose(self, request, response):
        k = request.max_candidates or self.p.max_candidates
        try:
            # The episode seeds a simulated VLM's randomness (same seed, same proposals, also after a resume).
            info = {'task': request.task_name or request.task, 'episode': int(request.episode)}
            if request.scene_view:  # a simulated camera's account of its frame, for a simulated VLM
                info['scene_view'] = seen_objects_from_msgs(request.scene_view)
            observation = Observation(features=features_array(request.state_features),
                                      image=from_image_msg(request.image), info=info)
            self._observe_progress(request, observation)
            proposer = self.proposer
            if request.pool:  # the Q-policy's frozen instruction pool: choose from it, never outside it
                pool = InstructionPool(len(request.pool), request.pool)
                proposer = PooledProposer(self.proposer, pool, log=self.get_logger().warning)
            proposed = proposer.propose(observation, request.task, list(request.history), k)
            # The whole task stays a candidate: the fixed baseline needs it, and TD targets
            # must range over the same sets the policy chooses from.
            candidates = normalize_candidates(with_task_prompt(list(proposed)[:k], request.task))
            if not candidates:
                raise ValueError('the VLM proposed no usable command')
            self.last_good[request.task] = candidates
        except Exception as exc:  # noqa: BLE001 - any VLM failure falls back, never crashes
            fallback = self.last_good.get(request.task)
            self.get_logger().warning(f'proposal failed ({exc}); '
                                      f'{"using the last good candidates" if fallback else "no cache yet"}')
            if fallback:
                candidates, response.from_cache = fallback, True
                response.message = f'fallback after: {exc}'
            elif request.task.strip():
                # Nothing cached yet: the whole task is still a command the VLA can try.
                candidates = [Candidate(normalize_prompt(request.task), SOURCE_TASK)]
                response.message = f'only the task prompt after: {exc}'
            else:
                response.success, response.message = False, f'proposal failed: {exc}'
                return response
        response.candidates = [candidate_to_msg(c) for c in candidates]
        response.vlm_scores = [float(c.vlm_score) for c in candidates]
        response.success = True
        return response

    def _observe_progress(self, request, observation):
        history = list(request.history)
        previous, self._previous = self._previous, (request.episode, observation, history)
        if not isinstance(self.proposer, CachedProposer) or previous is None or not history:
            return
        episode, before, before_history = previous
        if episode != request.episode or before_history != history[:-1]:
            return  # a step was skipped or retried: no clean before/after pair
        # The proposer sees no reward; a change of state cluster counts as progress.
        after = StepOutcome(observation=observation, reward=0.0, terminal=False, truncated=False,
                            success=False, control_steps=0)
        self.proposer.observe_outcome(before, request.task, before_history, history[-1], after)


def _indices(text: str) -> list[int] | None:
    try:
        return [int(i) for i in text.split(',') if i.strip()] or None
    except ValueError as exc:
        raise ValueError(f'vlm_proposer.cache_feature_dims={text!r} must be comma-separated integers') from exc


NODE_CLASS = ProposerNode


def main(argv=None):
    return run_node('vlm_proposer', __doc__.splitlines()[0], ProposerConfig, ProposerNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
