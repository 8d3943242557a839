"""Episode manager: the SARL loop over the node graph.

Each episode: teleop-style reset (arm home, "reset the scene", wait for the operator or
the simulator), then decide / execute / observe until success or the decision budget,
ask for the reward, store every transition with the Q-policy, publish episode events,
and append a line to <output_dir>/episodes.csv. Stops after `episodes` episodes.
"""
from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger

from sarl_ros.action import ExecutePrompt
from sarl_ros.graph import description as g
from sarl_ros.msg import EpisodeEvent, LearnerStats, RewardSignal, Transition
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.params import Param, declare_parameters
from sarl_ros.rosutil.qos import RECORD, RECORD_LISTEN
from sarl_ros.srv import (EvaluateEpisode, GetState, PauseEpisodes, ProposePrompts, ResetScene, SelectPrompt,
                          StartEpisode, StoreTransition)

PARAMS = (
    Param('task', 'sushi_to_pot', 'Task: a simulator task name, or the task text for a real robot'),
    Param('episodes', 60, 'Episodes before the node exits'),
    Param('max_decisions', 0, 'Decision budget per episode (0: the simulator task default, else 8)'),
    Param('control_steps', 0, 'Control steps per prompt (0: the executor default)'),
    Param('max_candidates', 8, 'Candidates requested from the proposer'),
    Param('reset_mode', 'auto', 'auto: the simulator resets the scene; operator: wait for a person',
          ('auto', 'operator')),
    Param('reset_reminder_s', 30.0, 'Repeat the reset request this often while waiting'),
    Param('autostart', True, 'Start episodes by themselves (false: wait for /sarl/start_episode)'),
    Param('service_timeout_s', 30.0, 'Timeout of one service call or action'),
    Param('retries', 2, 'Retries of a failed proposal or execution before the step is skipped'),
    Param('greedy', False, 'Evaluate: choose greedily'),
    Param('output_dir', 'runs/latest', 'episodes.csv goes here'),
)


DEFAULT_BUDGET = 8


class ServiceFailure(RuntimeError):
    pass


def task_budget(task: str) -> int:
    """Return the decision budget of a simulator task, or the default for any other task."""
    try:
        from sarl_ros.sim.registry import task_spec
        return task_spec(task).max_decisions
    except (ImportError, ValueError):
        return DEFAULT_BUDGET


class EpisodeManager(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('episode_manager', **node_options)
        self.p = declare_parameters(self, PARAMS)
        if self.p.episodes <= 0:
            raise ValueError(f'episode_manager.episodes must be positive, got {self.p.episodes}')
        self.exit_code = 0
        group = ReentrantCallbackGroup()
        self.peers = {
            'propose': self.create_client(ProposePrompts, g.SRV_PROPOSE, callback_group=group),
            'select': self.create_client(SelectPrompt, g.SRV_SELECT, callback_group=group),
            'store': self.create_client(StoreTransition, g.SRV_STORE_TRANSITION, callback_group=group),
            'state': self.create_client(GetState, g.SRV_GET_STATE, callback_group=group),
            'reset': self.create_client(ResetScene, g.SRV_RESET_SCENE, callback_group=group),
            'evaluate': self.create_client(EvaluateEpisode, g.SRV_EVALUATE, callback_group=group),
        }
        self.execute_client = ActionClient(self, ExecutePrompt, g.ACTION_EXECUTE, callback_group=group)
        self.events = self.create_publisher(EpisodeEvent, g.TOPIC_EVENTS, RECORD)
        # The learner answers each episode's end with its statistics (after its checkpoint):
        # the last episode is not over until then, or stopping the graph could lose it.
        self._learner_episodes = 0
        self._learner_caught_up = threading.Condition()
        self.create_subscription(LearnerStats, g.TOPIC_LEARNER_STATS, self._on_learner_stats, RECORD_LISTEN,
                                 callback_group=group)
        self._start = threading.Event()
        self._reset_confirmed = threading.Event()
        self._stop = threading.Event()
        self._resumed = threading.Event()  # cleared by an operator pause; checked between episodes
        self._resumed.set()
        self.create_service(StartEpisode, g.SRV_START_EPISODE, self._on_start, callback_group=group)
        self.create_service(Trigger, g.SRV_CONFIRM_RESET, self._on_confirm_reset, callback_group=group)
        self.create_service(Trigger, g.SRV_STOP, self._on_stop, callback_group=group)
        self.create_service(PauseEpisodes, g.SRV_PAUSE, self._on_pause, callback_group=group)
        self.out_dir = Path(self.p.output_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.successes: list[bool] = []
        self._loop = threading.Thread(target=self._run, name='episode-loop', daemon=True)
        self._loop.start()

    # --- operator services ---------------------------------------------------------------
    def _on_start(self, request, response):
        if request.task:
            self.p.task = request.task
        self._start.set()
        response.success, response.episode = True, len(self.successes) + 1
        return response

    def _on_confirm_reset(self, request, response):
        self._reset_confirmed.set()
        response.success, response.message = True, 'reset confirmed'
        return response

    def _on_stop(self, request, response):
        self._stop.set()
        self._start.set()
        self._reset_confirmed.set()
        self._resumed.set()
        response.success, response.message = True, 'stopping after the current decision'
        return response

    def _on_pause(self, request, response):
        if request.paused:
            self._resumed.clear()
            response.message = 'pausing after the current episode'
        else:
            self._resumed.set()
            response.message = 'resumed'
        response.success, response.episode = True, len(self.successes) + 1
        return response

    def _wait_while_paused(self, episode: int):
        if self._resumed.is_set():
            return
        self._event(EpisodeEvent.PAUSED, episode, 'paused by the operator')
        self.get_logger().info(f'paused before episode {episode}: call {g.SRV_PAUSE} with paused=false')
        self._resumed.wait()

    def _on_learner_stats(self, msg):
        with self._learner_caught_up:
            self._learner_episodes = max(self._learner_episodes, msg.episodes)
            self._learner_caught_up.notify_all()

    def _wait_for_learner(self, episodes: int):
        with self._learner_caught_up:
            if not self._learner_caught_up.wait_for(lambda: self._learner_episodes >= episodes,
                                                    timeout=self.p.service_timeout_s):
                self.get_logger().warning(f'the Q-policy reported {self._learner_episodes}/{episodes} episodes '
                                          f'before shutdown; its last checkpoint may miss the final episode')

    # --- plumbing -------------------------------------------------------------------------
    def _call(self, name: str, request, timeout: float | None = None):
        client = self.peers[name]
        timeout = timeout or self.p.service_timeout_s
        if not client.wait_for_service(timeout_sec=timeout):
            raise ServiceFailure(f'service {client.srv_name} is not available')
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise ServiceFailure(f'{client.srv_name} did not answer within {timeout:.0f} s')
        return future.result()

    def _execute(self, prompt: str, episode: int, step: int) -> ExecutePrompt.Result:
        if not self.execute_client.wait_for_server(timeout_sec=self.p.service_timeout_s):
            raise ServiceFailure(f'action {g.ACTION_EXECUTE} is not available')
        goal = ExecutePrompt.Goal(prompt=prompt, max_control_steps=self.p.control_steps,
                                  episode=episode, decision_step=step)
        done = threading.Event()
        sent = self.execute_client.send_goal_async(goal)
        sent.add_done_callback(lambda _: done.set())
        if not done.wait(self.p.service_timeout_s):
            raise ServiceFailure('the executor did not answer the goal')
        handle = sent.result()
        if not handle.accepted:
            raise ServiceFailure(f'the executor rejected {prompt!r}')
        done.clear()
        result_future = handle.get_result_async()
        result_future.add_done_callback(lambda _: done.set())
        if not done.wait(self.p.service_timeout_s * 4):
            handle.cancel_goal_async()
            raise ServiceFailure(f'executing {prompt!r} did not finish in time; cancelled')
        return result_future.result().result

    def _retrying(self, what: str, fn):
        for attempt in range(self.p.retries + 1):
            try:
                return fn()
            except ServiceFailure as exc:
                self.get_logger().warning(f'{what} failed (attempt {attempt + 1}/{self.p.retries + 1}): {exc}')
        raise ServiceFailure(f'{what} failed {self.p.retries + 1} times')

    def _event(self, kind: int, episode: int, detail: str = ''):
        msg = EpisodeEvent(type=kind, episode=episode, task=self.p.task, detail=detail)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.events.publish(msg)

    # --- the loop -------------------------------------------------------------------------
    def _run(self):
        try:
            for episode in range(1, self.p.episodes + 1):
                self._wait_while_paused(episode)
                if self._stop.is_set():
                    break
                if not self.p.autostart:
                    self.get_logger().info(f'episode {episode}: waiting for {g.SRV_START_EPISODE}')
                    self._start.wait()
                    self._start.clear()
                self._run_episode(episode)
        except Exception as exc:  # noqa: BLE001 - report, then end the graph with an error code
            self.get_logger().fatal(f'episode loop stopped: {exc}')
            self.exit_code = 1
        finally:
            self.get_logger().info(f'done: {sum(self.successes)}/{len(self.successes)} episodes succeeded')
            self._wait_for_learner(len(self.successes))
            self.context.try_shutdown()

    def _reset(self, episode: int):
        # Cleared before the request goes out: a confirmation given as soon as the request is seen
        # (while the arm still homes) counts, an earlier one does not.
        self._reset_confirmed.clear()
        self._event(EpisodeEvent.RESET_REQUESTED, episode)
        operator = self.p.reset_mode == 'operator'
        reply = self._retrying('reset', lambda: self._call('reset', ResetScene.Request(
            episode=episode, wait_for_operator=operator)))
        reply = self._wait_for_estop_release(reply, episode, operator)
        if not reply.success:
            raise ServiceFailure(f'reset refused: {reply.message}')
        if operator:
            waited = 0.0
            while not self._reset_confirmed.wait(self.p.reset_reminder_s):
                waited += self.p.reset_reminder_s
                self._event(EpisodeEvent.PAUSED, episode, f'waiting for the operator for {waited:.0f} s')
                self.get_logger().warning(f'episode {episode} paused: reset the scene, then call '
                                          f'{g.SRV_CONFIRM_RESET} (std_srvs/srv/Trigger)')
            if self._stop.is_set():
                return
        self._event(EpisodeEvent.RESET_DONE, episode)

    def _wait_for_estop_release(self, reply, episode: int, operator: bool):
        """Ask again for the reset while the executor refuses it for an engaged emergency stop."""
        remind_at = time.monotonic()
        while not reply.success and 'emergency stop' in reply.message and not self._stop.is_set():
            if time.monotonic() >= remind_at:
                self._event(EpisodeEvent.PAUSED, episode, 'emergency stop engaged: release it to continue')
                remind_at = time.monotonic() + self.p.reset_reminder_s
            self._stop.wait(0.5)
            reply = self._call('reset', ResetScene.Request(episode=episode, wait_for_operator=operator))
        return reply

    def _propose(self, state, history, episode, step):
        reply = self._retrying('proposal', lambda: self._call('propose', ProposePrompts.Request(
            image=state.image, state_features=state.state_features, task=self.p.task, history=history,
            max_candidates=self.p.max_candidates, episode=episode, decision_step=step)))
        if not reply.success or not reply.candidates:
            raise ServiceFailure(f'no candidates: {reply.message}')
        return reply

    def _run_episode(self, episode: int):
        started = time.monotonic()
        self._reset(episode)
        self._event(EpisodeEvent.START, episode)
        budget = self.p.max_decisions or task_budget(self.p.task)
        state = self._call('state', GetState.Request())
        proposal = self._propose(state, [], episode, 0)
        history: list[str] = []
        success, failed, decisions, outcome_detail = False, False, 0, ''
        for step in range(budget):
            if self._stop.is_set():
                outcome_detail = 'stopped by the operator'
                break
            choice = self._call('select', SelectPrompt.Request(
                episode=episode, decision_step=step, task=self.p.task, state_features=state.state_features,
                candidates=proposal.candidates, vlm_scores=proposal.vlm_scores, greedy=self.p.greedy))
            if not choice.success:
                raise ServiceFailure(f'the policy refused to choose: {choice.message}')
            chosen = choice.decision.candidates[choice.decision.chosen_index]
            try:
                result = self._retrying(f'executing {chosen.prompt!r}',
                                        lambda: self._execute(chosen.prompt, episode, step))
            except ServiceFailure as exc:
                # Nothing ran, so there is no transition to store: skip the decision.
                self.get_logger().error(f'episode {episode} step {step}: skipped ({exc})')
                continue
            if result.outcome == ExecutePrompt.Result.ESTOPPED:
                outcome_detail = 'emergency stop'  # a cut-short prompt is no transition to learn from
                break
            decisions += 1
            history.append(chosen.prompt)
            last = step == budget - 1
            verdict = self._call('evaluate', EvaluateEpisode.Request(
                episode=episode, decision_step=step, task=self.p.task, final=last))
            success = verdict.decided and verdict.reward.value > 0.5
            # A person's "failure" ends the episode; a detector's "not yet" does not.
            failed = verdict.decided and not success and verdict.reward.source == RewardSignal.SOURCE_HUMAN
            over = success or failed
            next_state = self._call('state', GetState.Request())
            next_state.state_features = result.state_features or next_state.state_features
            next_proposal = None if over else self._propose(next_state, history, episode, step + 1)
            self._store(Transition(
                episode=episode, decision_step=step, task=self.p.task, state_features=state.state_features,
                action=chosen, reward=1.0 if success else 0.0, control_steps=result.control_steps,
                next_state_features=next_state.state_features,
                next_candidates=[] if over else list(next_proposal.candidates),
                terminal=over, truncated=last and not over))
            if over:
                outcome_detail = 'failure reported by the operator' if failed else ''
                break
            state, proposal = next_state, next_proposal
        self.successes.append(success)
        kind = (EpisodeEvent.SUCCESS if success else EpisodeEvent.FAILURE if failed
                else EpisodeEvent.ABORTED if outcome_detail else EpisodeEvent.TIMEOUT)
        self._event(kind, episode, outcome_detail or f'{decisions} decisions')
        self._log_episode(episode, success, decisions, history, time.monotonic() - started)

    def _store(self, transition: Transition):
        reply = self._retrying('storing the transition', lambda: self._call(
            'store', StoreTransition.Request(transition=transition)))
        if not reply.accepted:
            self.get_logger().error(f'transition refused by the policy: {reply.message}')

    def _log_episode(self, episode, success, decisions, history, seconds):
        path = self.out_dir / 'episodes.csv'
        new = not path.exists()
        with path.open('a', newline='') as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(['episode', 'task', 'success', 'decisions', 'prompts', 'seconds'])
            writer.writerow([episode, self.p.task, int(success), decisions, ' | '.join(history), f'{seconds:.2f}'])
        recent = self.successes[-10:]
        self.get_logger().info(
            f'episode {episode}/{self.p.episodes}: {"SUCCESS" if success else "failure"} after {decisions} '
            f'decisions in {seconds:.1f} s; success rate (last {len(recent)}): {sum(recent) / len(recent):.0%}')


NODE_CLASS = EpisodeManager


def main(argv=None):
    return run_node('episode_manager', __doc__.splitlines()[0], PARAMS, EpisodeManager, argv)


if __name__ == '__main__':
    raise SystemExit(main())
