"""Thin ROS clients that let core's episode loop run over the node graph.

In the spirit of nav2_simple_commander's BasicNavigator: each object speaks one core interface
(PromptProposer, the policy interface, SemanticEnv) and turns its calls into blocking service
and action calls. They are called from the episode manager's worker thread while the node's
executor spins, so every wait is on a future's done callback, never a spin.
"""
from __future__ import annotations

import threading
from typing import Callable

from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import Image

from sarl_ros.action import ExecutePrompt
from sarl_ros.core.mdp import (SOURCE_OPERATOR, Candidate, Decision, EpisodeAborted, Observation, StepOutcome,
                               StepSkipped, judge_step)
from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.tasks import Task
from sarl_ros import names
from sarl_ros.node_configs import EpisodeManagerConfig
from sarl_ros.rosutil.convert import (candidate_to_msg, candidates_from_msgs, features_array, seen_objects_from_msgs,
                                      transition_to_msg)
from sarl_ros.msg import InstructionPool
from sarl_ros.rosutil.qos import LATCHED
from sarl_ros.srv import EvaluateEpisode, GetState, ProposePrompts, SelectPrompt, StoreTransition


class ServiceFailure(RuntimeError):
    pass


class GraphCaller:
    """Blocking service calls with a timeout, and retries of a failing call."""

    def __init__(self, node: Node, timeout_s: float, retries: int, callback_group=None):
        self.node, self.timeout_s, self.retries, self.group = node, float(timeout_s), int(retries), callback_group
        # endpoint name -> is it ready now (service_is_ready / server_is_ready): what readiness waits on
        self.ready_checks: dict[str, Callable[[], bool]] = {}

    def client(self, srv_type, name: str):
        client = self.node.create_client(srv_type, name, callback_group=self.group)
        self.ready_checks[name] = client.service_is_ready
        return client

    def is_ready(self, endpoint: str) -> bool:
        check = self.ready_checks.get(endpoint)
        return bool(check is not None and check())

    def call(self, client, request, timeout: float | None = None):
        timeout = timeout or self.timeout_s
        if not client.wait_for_service(timeout_sec=timeout):
            raise ServiceFailure(f'service {client.srv_name} is not available')
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise ServiceFailure(f'{client.srv_name} did not answer within {timeout:.0f} s')
        return future.result()

    def retrying(self, what: str, fn: Callable):
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except ServiceFailure as exc:
                self.node.get_logger().warning(f'{what} failed (attempt {attempt + 1}/{self.retries + 1}): {exc}')
        raise ServiceFailure(f'{what} failed {self.retries + 1} times')


class ProposerClient:
    """The PromptProposer interface over the proposer node's service."""

    def __init__(self, caller: GraphCaller):
        self.caller = caller
        self.episode = 0
        self._client = caller.client(ProposePrompts, names.SRV_PROPOSE)
        # The Q-policy's instruction pool (latched): once frozen, the VLM is asked to choose from it.
        self.pool: list[str] = []
        caller.node.create_subscription(InstructionPool, names.TOPIC_INSTRUCTION_POOL, self._on_pool, LATCHED,
                                        callback_group=caller.group)

    def _on_pool(self, msg) -> None:
        self.pool = list(msg.prompts) if msg.frozen else []

    def propose(self, observation: Observation, task: str, history, max_candidates: int) -> list[Candidate]:
        request = ProposePrompts.Request(
            image=observation.info.get('image_msg') or Image(), state_features=[float(x) for x in observation.features],
            task=task, task_name=observation.info.get('task', ''), history=list(history),
            scene_view=list(observation.info.get('scene_view_msgs', ())), max_candidates=max_candidates,
            episode=self.episode, decision_step=len(history), pool=list(self.pool))
        reply = self.caller.retrying('proposal', lambda: self.caller.call(self._client, request))
        if not reply.success or not reply.candidates:
            raise ServiceFailure(f'no candidates: {reply.message}')
        return candidates_from_msgs(reply.candidates, reply.vlm_scores)


class PolicyClient:
    """The policy interface over the Q-policy node: it chooses and stores; it learns on its own thread."""

    name = 'q_policy'

    def __init__(self, caller: GraphCaller):
        self.caller = caller
        self.episode = 0
        self.task_name = ''  # the task's name in stored transitions (the episode manager sets it)
        self._step = 0
        self._sources: dict[str, str] = {}
        # Language-guided demonstrations: the operator's prompt for (episode, decision step), used instead
        # of the policy's choice for that one decision (the policy still scores it, so its counters move on).
        self._operator: dict[tuple[int, int], str] = {}
        self._operator_lock = threading.Lock()
        self._select = caller.client(SelectPrompt, names.SRV_SELECT)
        self._store = caller.client(StoreTransition, names.SRV_STORE_TRANSITION)

    def begin_episode(self, task: str, max_decisions: int = 0) -> None:
        # The node begins its own episode at decision step 0, with the budget it resolves for the task.
        self._step = 0

    def demonstrate(self, episode: int, step: int, prompt: str) -> str:
        """Take the operator's prompt for the next decision of the running episode; return '' or why not."""
        text = normalize_prompt(prompt)
        if not text:
            return 'the demonstration prompt is blank'
        with self._operator_lock:
            if episode != self.episode or step != self._step:
                return (f'the next decision is episode {self.episode} step {self._step}, not episode {episode} '
                        f'step {step}')
            self._operator[(episode, step)] = text
        return ''

    def select(self, observation: Observation, candidates: list[Candidate], task: str,
               greedy: bool = False) -> Decision:
        with self._operator_lock:
            step = self._step
            request = SelectPrompt.Request(
                episode=self.episode, decision_step=self._step, task=task,
                state_features=[float(x) for x in observation.features],
                candidates=[candidate_to_msg(c) for c in candidates],
                vlm_scores=[float(c.vlm_score) for c in candidates], greedy=greedy)
            self._step += 1
        # Safe to retry: the node answers an identical request with the decision it already sampled.
        reply = self.caller.retrying('choosing a prompt', lambda: self.caller.call(self._select, request))
        if not reply.success:
            raise ServiceFailure(f'the policy refused to choose: {reply.message}')
        msg = reply.decision
        if not 0 <= msg.chosen_index < len(candidates):
            raise ServiceFailure(f'the policy chose index {msg.chosen_index} of {len(candidates)} candidates')
        with self._operator_lock:
            demonstrated = self._operator.pop((self.episode, step), None)
        if demonstrated is not None:
            prompts = [normalize_prompt(c.prompt) for c in candidates]
            index = prompts.index(demonstrated) if demonstrated in prompts else -1  # -1: typed, not offered
            self._sources[demonstrated] = SOURCE_OPERATOR  # the transition (and the bag) say who chose
            self.caller.node.get_logger().info(f'decision {step}: the operator demonstrates {demonstrated!r}')
            chosen_only = tuple(float(i == index) for i in range(len(candidates)))
            return Decision(index=index, prompt=candidates[index].prompt if index >= 0 else demonstrated,
                            q_values=tuple(msg.q_values), probabilities=chosen_only,
                            temperature=float(msg.temperature), greedy=True)
        chosen = candidates[msg.chosen_index]
        self._sources[chosen.prompt] = chosen.source
        return Decision(index=int(msg.chosen_index), prompt=chosen.prompt, q_values=tuple(msg.q_values),
                        probabilities=tuple(msg.probabilities), temperature=float(msg.temperature),
                        greedy=bool(msg.greedy))

    def record(self, transition) -> None:
        msg = transition_to_msg(transition, task=self.task_name,
                                source=self._sources.get(transition.prompt, 'vlm'))
        reply = self.caller.retrying('storing the transition', lambda: self.caller.call(
            self._store, StoreTransition.Request(transition=msg)))
        if not reply.accepted:
            self.caller.node.get_logger().error(f'transition refused by the policy: {reply.message}')

    def update(self, n_updates: int) -> dict:
        return {}  # the node runs its TD updates on a learner thread, queued by every stored transition

    def end_episode(self, success: bool) -> None:
        pass  # the node ends the episode on the manager's episode event (after its checkpoint)


# Executions that ran (wholly or until the skill reported done): only these make transitions.
RAN = (ExecutePrompt.Result.COMPLETED, ExecutePrompt.Result.SKILL_DONE)
# How long a refused goal waits for the executor's e-stop state before it counts as an ordinary refusal.
ESTOP_STATE_GRACE_S = 0.25


class GraphEnvironment:
    """The SemanticEnv interface over the executor (action, state) and the reward node.

    reset_scene(episode, seed) is the episode manager's teleop-style reset (events, operator);
    should_stop() is checked before every prompt. Reward and termination come from core's
    judge_step over the reward node's verdict, exactly as in the simulator's env. Like that env it
    keeps the prompts executed this episode (`history`) and sends them with every state read and
    goal, so the executor's featurizer computes the state the in-process env computes.
    """

    def __init__(self, node: Node, caller: GraphCaller, task: Task, control_steps: int,
                 reset_scene: Callable[[int, int], None], should_stop: Callable[[], bool], callback_group=None,
                 verdict_timeout_s: float = EpisodeManagerConfig.verdict_timeout_s,
                 estop: threading.Event | None = None):
        self.node, self.caller = node, caller
        self.task, self.name, self.max_decisions = task.text, task.name, task.max_decisions
        self.control_steps = int(control_steps)
        self.verdict_timeout_s = float(verdict_timeout_s)
        self.reset_scene, self.should_stop = reset_scene, should_stop
        # Set while the executor reports its emergency stop engaged (its latched state topic).
        self.estop = estop if estop is not None else threading.Event()
        self.episode = 0
        self._steps = 0
        self.history: list[str] = []  # prompts that ran this episode, oldest first
        self._state = caller.client(GetState, names.SRV_GET_STATE)
        self._evaluate = caller.client(EvaluateEpisode, names.SRV_EVALUATE)
        self._execute = ActionClient(node, ExecutePrompt, names.ACTION_EXECUTE, callback_group=callback_group)
        caller.ready_checks[names.ACTION_EXECUTE] = self._execute.server_is_ready
        self.last_reward = None

    def reset(self, seed: int | None = None) -> Observation:
        self._steps = 0
        self.history = []
        self.reset_scene(self.episode, 0 if seed is None else int(seed))
        return self._observe()

    def step(self, prompt: str) -> StepOutcome:
        if self.should_stop():
            raise EpisodeAborted('stopped by the operator')
        if self.estop.is_set():  # engaged between two prompts: no goal goes to a stopped arm
            raise EpisodeAborted('emergency stop')
        step = self._steps
        self._steps += 1
        try:
            result = self.caller.retrying(f'executing {prompt!r}', lambda: self._run(prompt, step))
        except ServiceFailure as exc:
            if self.estop.is_set():  # refused because the stop was engaged as the goal went out
                raise EpisodeAborted('emergency stop') from exc
            # Nothing ran, so there is nothing to learn from: the loop skips the decision.
            self.node.get_logger().error(f'episode {self.episode} step {step}: skipped ({exc})')
            raise StepSkipped(str(exc)) from exc
        if result.outcome == ExecutePrompt.Result.ESTOPPED:
            # The operator stopped the arm: the episode ends here, and a prompt cut short teaches nothing.
            raise EpisodeAborted('emergency stop')
        if result.outcome in RAN:
            self.history.append(prompt)  # as the env does: the state after a prompt counts it
        observation = self._observe()
        if result.outcome not in RAN:
            # Failed, cancelled or e-stopped part of the way: no transition describes it.
            reason = (f'executing {prompt!r} ended with outcome {result.outcome} after {result.control_steps} '
                      f'control steps: {result.message}')
            self.node.get_logger().error(f'episode {self.episode} step {step}: skipped ({reason})')
            raise StepSkipped(reason, observation)
        final = self._steps >= self.max_decisions
        # The final verdict may wait for a person (reward.human_timeout_s), longer than any service call.
        request = EvaluateEpisode.Request(episode=self.episode, decision_step=step, task=self.task,
                                          image=observation.info['image_msg'], final=final)
        # Retried like every other call: a restarted reward node may take a while to be discovered.
        verdict = self.caller.retrying('the verdict', lambda: self.caller.call(
            self._evaluate, request, timeout=self.verdict_timeout_s if final else None))
        success = bool(verdict.decided and verdict.reward.value > 0.5)
        failed = bool(verdict.reward.failed_for_good) and not success
        reward, terminal = judge_step(success, failed)
        self.last_reward = verdict.reward
        return StepOutcome(observation=observation, reward=reward, terminal=terminal, truncated=False,
                           success=success, control_steps=int(result.control_steps), failed_for_good=failed,
                           info={'reward_detail': verdict.reward.detail, 'outcome': int(result.outcome)})

    def _observe(self) -> Observation:
        request = GetState.Request(history=list(self.history))
        state = self.caller.retrying('reading the state', lambda: self.caller.call(self._state, request))
        if not state.success:
            raise ServiceFailure(f'the executor could not read the state: {state.message}')
        # The image message and the scene view travel on to the proposer (and the image to the reward
        # node) without a decode; the task's name lets a simulated VLM pick its task catalog's reading.
        return Observation(features=features_array(state.state_features),
                           info={'image_msg': state.image, 'task': self.name, 'scene_view_msgs': list(state.scene_view),
                                 'scene_view': seen_objects_from_msgs(state.scene_view)})

    def _run(self, prompt: str, step: int) -> ExecutePrompt.Result:
        timeout = self.caller.timeout_s
        if not self._execute.wait_for_server(timeout_sec=timeout):
            raise ServiceFailure(f'action {names.ACTION_EXECUTE} is not available')
        goal = ExecutePrompt.Goal(prompt=prompt, max_control_steps=self.control_steps, episode=self.episode,
                                  decision_step=step, history=list(self.history))
        done = threading.Event()
        sent = self._execute.send_goal_async(goal)
        sent.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise ServiceFailure('the executor did not answer the goal')
        handle = sent.result()
        if not handle.accepted:
            # Engaged as the goal went out: its state may arrive a moment after the refusal.
            if self.estop.wait(ESTOP_STATE_GRACE_S):
                raise EpisodeAborted('emergency stop')  # not retried: the arm is stopped
            raise ServiceFailure(f'the executor rejected {prompt!r}')
        done.clear()
        result_future = handle.get_result_async()
        result_future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout * 4):
            handle.cancel_goal_async()
            raise ServiceFailure(f'executing {prompt!r} did not finish in time; cancelled')
        return result_future.result().result
