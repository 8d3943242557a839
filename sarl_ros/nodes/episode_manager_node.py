"""Episode manager: the SARL loop over the node graph.

The run is core's one run driver (sarl_ros.core.online_run: numbering, seeds, resume, the
episodes.csv schema) over thin clients of the other nodes (sarl_ros.nodes.clients); each episode
is core's run_episode: teleop-style reset (arm home, "reset the scene", wait for the operator or
the simulator), then propose / choose / execute / judge until success, failure for good or the
decision budget; every transition goes to the Q-policy. Episode events are published and a row
is appended to <output_dir>/episodes.csv. Stops after `episodes` episodes.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from sarl_ros.backends.catalog import task_catalogs
from sarl_ros.core.events import (BY_EPISODE_END, CORRECTED_BY_OPERATOR, PAUSED_BY_OPERATOR, WAITING_FOR_RELEASE,
                                  WAITING_FOR_RESET, EventKind)
from sarl_ros.core.mdp import EpisodeAborted
from sarl_ros.core.readiness import Dependency, NotReady, wait_until_ready
from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.durability.resume import RECORD_NAME
from sarl_ros.core.online_run import OnlineRun, RunConfig, RunRecord, resume_position
from sarl_ros.core.tasks import resolve_task
from sarl_ros import names
from sarl_ros.msg import EpisodeEvent, LearnerStats, RewardSignal
from sarl_ros.nodes.clients import GraphCaller, GraphEnvironment, PolicyClient, ProposerClient, ServiceFailure
from sarl_ros.node_configs import EpisodeManagerConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import LATCHED, RECORD, RECORD_LISTEN
from sarl_ros.srv import DemonstratePrompt, PauseEpisodes, ReportOutcome, ResetScene, StartEpisode


class EpisodeManager(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('episode_manager', **node_options)
        self.p = declare_parameters(self, EpisodeManagerConfig)
        if self.p.episodes <= 0:
            raise ValueError(f'episode_manager.episodes must be positive, got {self.p.episodes}')
        self.exit_code = 0
        # Resolved once: the proposer, the policy and the detector get the text, records the name.
        self.task = resolve_task(self.p.task, task_catalogs(), self.p.max_decisions)
        group = ReentrantCallbackGroup()
        caller = GraphCaller(self, self.p.service_timeout_s, self.p.retries, group)
        self._reset_client = caller.client(ResetScene, names.SRV_RESET_SCENE)
        self.caller = caller
        self.proposer = ProposerClient(caller)
        self.policy = PolicyClient(caller)
        self._estopped = threading.Event()  # the executor's latched e-stop state (_on_estop_state)
        self.env = GraphEnvironment(self, caller, self.task, self.p.control_steps, reset_scene=self._reset,
                                    should_stop=lambda: self._stop.is_set(), callback_group=group,
                                    verdict_timeout_s=self.p.verdict_timeout_s,
                                    estop=self._estopped)
        self.events = self.create_publisher(EpisodeEvent, names.TOPIC_EVENTS, RECORD)
        # The learner answers each episode's end with its statistics (after its checkpoint):
        # the last episode is not over until then, or stopping the graph could lose it.
        self._learner_reports = 0  # LearnerStats received from this run's Q-policy
        self._learner_caught_up = threading.Condition()
        self.create_subscription(LearnerStats, names.TOPIC_LEARNER_STATS, self._on_learner_stats, RECORD_LISTEN,
                                 callback_group=group)
        self._start = threading.Event()
        self._reset_confirmed = threading.Event()
        self._awaiting_reset = False  # a reset was requested from the operator and not yet confirmed
        # The executor's latched e-stop state: no goal goes to a stopped arm, and a confirmation
        # given before the stop (or while it is engaged) does not count for the next reset.
        self.create_subscription(Bool, names.TOPIC_ESTOP_STATE, self._on_estop_state, LATCHED, callback_group=group)
        self._stop = threading.Event()
        self._resumed = threading.Event()  # cleared by an operator pause; checked between episodes
        self._resumed.set()
        self.create_service(StartEpisode, names.SRV_START_EPISODE, self._on_start, callback_group=group)
        self.create_service(Trigger, names.SRV_CONFIRM_RESET, self._on_confirm_reset, callback_group=group)
        self.create_service(Trigger, names.SRV_STOP, self._on_stop, callback_group=group)
        self.create_service(PauseEpisodes, names.SRV_PAUSE, self._on_pause, callback_group=group)
        # The verdict of the episode that just ended may be corrected until the next one starts.
        self._correctable: int | None = None
        self._correction = threading.Lock()  # a correction and the next start do not interleave
        self._relabel_client = caller.client(ReportOutcome, names.SRV_RELABEL_EPISODE)
        self.create_service(ReportOutcome, names.SRV_CORRECT_OUTCOME, self._on_correct, callback_group=group)
        # Language-guided demonstrations from the console (or any client): a prompt for the next decision.
        self.create_service(DemonstratePrompt, names.SRV_DEMONSTRATE, self._on_demonstrate, callback_group=group)
        self.out_dir = Path(self.p.output_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.record = RunRecord(self.out_dir / RECORD_NAME)
        previous = self.record.rows()
        # The one run driver numbers, seeds, resumes and records; no demonstrations here (a person
        # demonstrates single decisions through /sarl/demonstrate_prompt), learning is the Q-policy node's
        # (updates 0 here: it queues updates per transition).
        self.driver = OnlineRun(
            RunConfig(task=self.task.name, episodes=self.p.episodes, seed=self.p.seed,
                      max_candidates=self.p.max_candidates, greedy=self.p.greedy, output_dir=self.p.output_dir),
            self.env, self.policy, proposer=self.proposer, record=self.record, demonstrations=0,
            start=resume_position(self.record),
            updates_per_decision=0, task_name=self.task.name, before_episode=self._before_episode,
            on_end=self._episode_ended, on_recorded=self._episode_recorded)
        self.first_episode = self.driver.next_episode or self.p.episodes + 1
        self.episodes_done = len(previous)
        # Decided episodes only: an aborted one is neither a success nor a failure.
        self.successes: list[bool] = [row.get('success') == '1' for row in previous if row.get('outcome') != 'aborted']
        self._ran = 0  # episodes this process ran (the learner reports each)
        self._ready = False
        self._closing = threading.Event()  # close() was called: the loop ends without ending the context
        self._loop = threading.Thread(target=self._run, name='episode-loop', daemon=True)
        self._loop.start()

    def close(self, join_s: float = 2.0):
        """Stop the episode loop (after the current decision) before the node is destroyed.

        The loop's own end shuts the context down (the graph ends when its episodes are done); once the
        node is being closed that must not happen: in a test process rclpy's default context is
        initialised again for the next test, and a loop outliving its node would shut that one down.
        """
        self._closing.set()
        for event in (self._stop, self._start, self._reset_confirmed, self._resumed):
            event.set()
        with self._learner_caught_up:
            self._learner_caught_up.notify_all()
        if self._loop.is_alive() and self._loop is not threading.current_thread():
            self._loop.join(join_s)

    # --- operator services ---------------------------------------------------------------
    def _on_demonstrate(self, request, response):
        refused = self.policy.demonstrate(int(request.episode), int(request.decision_step), request.prompt)
        response.accepted = not refused
        response.message = refused or (f'episode {request.episode} decision {request.decision_step} will run '
                                       f'{normalize_prompt(request.prompt)!r}')
        if refused:
            self.get_logger().warning(f'demonstration refused: {refused}')
        return response

    def _on_start(self, request, response):
        if request.task:
            try:
                self._set_task(resolve_task(request.task, task_catalogs(), self.p.max_decisions))
            except ValueError as exc:
                response.success, response.message = False, str(exc)
                return response
        self._start.set()
        response.success, response.episode = True, self.episodes_done + 1
        return response

    def _on_confirm_reset(self, request, response):
        if self._estopped.is_set():
            response.success = False
            response.message = 'the emergency stop is engaged: release it, reset the scene, then confirm'
        elif not self._awaiting_reset:
            response.success = False
            response.message = ('no reset is waiting for a confirmation' if self.p.reset_mode == 'operator'
                                else 'reset_mode is auto: the scene resets itself')
        else:
            self._reset_confirmed.set()
            response.success, response.message = True, 'reset confirmed'
        return response

    def _on_estop_state(self, msg):
        if msg.data:
            self._estopped.set()
            self._reset_confirmed.clear()
        else:
            self._estopped.clear()

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
        response.success, response.episode = True, self.episodes_done + 1
        return response

    def _wait_while_paused(self, episode: int):
        if self._resumed.is_set():
            return
        self._event(EventKind.PAUSED, episode, PAUSED_BY_OPERATOR)
        self.get_logger().info(f'paused before episode {episode}: call {names.SRV_PAUSE} with paused=false')
        self._resumed.wait()

    def _on_learner_stats(self, msg):
        with self._learner_caught_up:
            self._learner_reports += 1
            self._learner_caught_up.notify_all()

    def _wait_for_learner(self, episodes: int):
        with self._learner_caught_up:
            caught_up = lambda: self._learner_reports >= episodes or self._closing.is_set()  # noqa: E731
            if not self._learner_caught_up.wait_for(caught_up, timeout=self.p.service_timeout_s):
                self.get_logger().warning(f'the Q-policy reported {self._learner_reports}/{episodes} episodes '
                                          f'before shutdown; its last checkpoint may miss the final episode')

    def _set_task(self, task):
        self.task = task
        self.driver.task_name = task.name
        self.env.task, self.env.name, self.env.max_decisions = task.text, task.name, task.max_decisions

    def _event(self, kind: int, episode: int, detail: str = ''):
        msg = EpisodeEvent(type=int(kind), episode=episode, task=self.task.name, detail=detail)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.events.publish(msg)

    # --- the loop -------------------------------------------------------------------------
    def _run(self):
        if self.first_episode > 1:
            self.get_logger().info(f'resuming at episode {self.first_episode}/{self.p.episodes} '
                                   f'({self.first_episode - 1} in {self.out_dir / RECORD_NAME})')
        try:
            self.driver.run()
        except NotReady as exc:
            if not self._stop.is_set():  # a node missing at the deadline; an operator's stop is no failure
                self.get_logger().fatal(str(exc))
                self.exit_code = 1
        except Exception as exc:  # noqa: BLE001 - report, then end the graph with an error code
            self.get_logger().fatal(f'episode loop stopped: {exc}')
            self.exit_code = 1
        finally:
            self.get_logger().info(f'done: {sum(self.successes)}/{len(self.successes)} episodes succeeded')
            if not self._closing.is_set():
                self._wait_for_learner(self._ran)
                self.context.try_shutdown()

    def _before_episode(self, episode: int) -> bool:
        """Before each episode (the run driver asks; False stops the run): pause, stop, manual start, readiness."""
        self._wait_while_paused(episode)
        if self._stop.is_set():
            return False
        if not self.p.autostart:
            self.get_logger().info(f'episode {episode}: waiting for {names.SRV_START_EPISODE}')
            self._start.wait()
            self._start.clear()
        if not self._ready:  # once, before the first episode of this run
            self._wait_until_ready()
            self._ready = True
        self.env.episode = self.proposer.episode = self.policy.episode = episode
        self.policy.task_name = self.task.name
        return True

    def _wait_until_ready(self):
        """Wait for every service and action the loop calls (readiness, not retries of a first call)."""
        needs = [Dependency(node, endpoints) for node, endpoints in names.EPISODE_MANAGER_NEEDS]
        waited = wait_until_ready(needs, self.caller.is_ready, self.p.ready_timeout_s, self.get_logger().info,
                                  should_stop=self._stop.is_set,
                                  deadline_hint='more time: ready_timeout_s under episode_manager in the parameter '
                                                'file (config:=)')
        self.get_logger().info(f'all {len(waited)} nodes ready after {max(waited.values(), default=0.0):.1f} s')

    def _reset(self, episode: int, seed: int):
        """Teleop-style reset (GraphEnvironment.reset calls this): events, the executor, the operator."""
        # Cleared before the request goes out: a confirmation given as soon as the request is seen
        # (while the arm still homes) counts, an earlier one does not.
        self._reset_confirmed.clear()
        operator = self.p.reset_mode == 'operator'
        self._awaiting_reset = operator
        self._event(EventKind.RESET_REQUESTED, episode, WAITING_FOR_RESET if operator else '')
        # The task resolved here is the scene's: a simulator builds it, nobody else resolves the name again.
        request = ResetScene.Request(episode=episode, seed=seed, task=self.task.name, wait_for_operator=operator)
        reply = self.caller.retrying('reset', lambda: self.caller.call(self._reset_client, request))
        refused = not reply.success
        reply = self._wait_for_estop_release(reply, episode, request)
        if not reply.success:
            raise ServiceFailure(f'reset refused: {reply.message}')
        if refused and operator:  # released: what the run waits for now is the operator's reset
            self._event(EventKind.PAUSED, episode, WAITING_FOR_RESET)
        if operator:
            self._wait_for_confirmation(episode)
        if self._stop.is_set():
            raise EpisodeAborted('stopped by the operator')
        self._wait_while_paused(episode)  # pause pressed while the reset was pending: this episode waits too
        if self._stop.is_set():
            raise EpisodeAborted('stopped by the operator')
        with self._correction:  # from here on the last episode's verdict stands
            self._correctable = None
            self._event(EventKind.RESET_DONE, episode)
            self._event(EventKind.START, episode)

    def _wait_for_confirmation(self, episode: int):
        waited = 0.0
        try:
            while not self._reset_confirmed.wait(self.p.reset_reminder_s):
                waited += self.p.reset_reminder_s
                self._event(EventKind.PAUSED, episode, f'{WAITING_FOR_RESET} for {waited:.0f} s')
                self.get_logger().warning(f'episode {episode} paused: reset the scene, then call '
                                          f'{names.SRV_CONFIRM_RESET} (std_srvs/srv/Trigger)')
        finally:
            self._awaiting_reset = False

    def _episode_ended(self, episode: int, result, row: dict):
        """Before the row is written: the end event, who decided (the row's decided_by)."""
        self.episodes_done += 1
        if result.end != 'aborted':  # an aborted episode is neither a success nor a failure
            self.successes.append(result.success)
        detail = result.aborted or f'{result.decisions} decisions'
        if result.end == 'failed' and self.env.last_reward is not None:
            detail = f'failed for good ({self.env.last_reward.detail}) after {detail}'
        if result.skipped:
            detail += f', {result.skipped} skipped'
        decided_by = ''
        if self.env.last_reward is not None and result.end in ('success', 'failed'):
            decided_by = 'person' if self.env.last_reward.source == RewardSignal.SOURCE_HUMAN else 'detector'
            detail += f', decided by {decided_by}'
        row['decided_by'] = decided_by
        self._event(BY_EPISODE_END[result.end], episode, detail)

    def _episode_recorded(self, episode: int, result, row: dict):
        if result.end in ('success', 'failed'):
            self._correctable = episode
        self._ran += 1
        # The learner's checkpoint of this episode before the next one starts: the next decision
        # sees the same learner in every run, and a run stopped here resumes where it stood.
        self._wait_for_learner(self._ran)

    def _on_correct(self, request, response):
        """Relabel the episode that just ended (success <-> failure): learner first, then the record."""
        response.accepted = False
        if request.outcome not in (ReportOutcome.Request.SUCCESS, ReportOutcome.Request.FAILURE):
            response.message = 'a correction is success or failure'
            return response
        success = request.outcome == ReportOutcome.Request.SUCCESS
        # The end event goes out a moment before the record is written and the learner has ended the
        # episode: a correction sent at once waits for both (briefly).
        end = time.monotonic() + 2.0
        while self._correctable != request.episode and request.episode == self.episodes_done \
                and time.monotonic() < end:
            time.sleep(0.02)
        ended_here = self.episodes_done - (self.first_episode - 1)  # episodes this run's learner has to report
        with self._learner_caught_up:
            self._learner_caught_up.wait_for(lambda: self._learner_reports >= ended_here,
                                             timeout=self.p.service_timeout_s)
        with self._correction:
            if request.episode != self._correctable:
                response.message = (f'episode {request.episode} cannot be corrected: only the last episode that '
                                    'ended with a verdict, before the next one starts')
                return response
            try:
                reply = self.caller.call(self._relabel_client, ReportOutcome.Request(
                    episode=request.episode, outcome=request.outcome, note=request.note))
            except ServiceFailure as exc:
                response.message = f'the learner did not take the correction: {exc}'
                return response
            if not reply.accepted:
                response.message = f'the learner refused the correction: {reply.message}'
                return response
            try:
                was = self.record.correct_last(request.episode, success)
            except (OSError, ValueError) as exc:  # the learner has the new reward; say the record has not
                self.get_logger().error(f'episode {request.episode}: corrected for the learner, not in the record: '
                                        f'{exc}')
                response.message = f'the record could not be corrected: {exc}'
                return response
            if self.successes:
                self.successes[-1] = success
            kind = EventKind.SUCCESS if success else EventKind.FAILURE
            self._event(kind, request.episode, f'{CORRECTED_BY_OPERATOR} (was {was}), decided by person')
        self.get_logger().info(f'episode {request.episode}: verdict corrected from {was} to {kind.label}')
        response.accepted, response.message = True, f'episode {request.episode}: {kind.label} (was {was})'
        return response

    def _wait_for_estop_release(self, reply, episode: int, request):
        """Ask again for the reset while the executor refuses it for an engaged emergency stop."""
        remind_at = time.monotonic()
        while not reply.success and 'emergency stop' in reply.message and not self._stop.is_set():
            if time.monotonic() >= remind_at:
                self._event(EventKind.PAUSED, episode, WAITING_FOR_RELEASE)
                remind_at = time.monotonic() + self.p.reset_reminder_s
            self._stop.wait(0.5)
            reply = self.caller.call(self._reset_client, request)
        return reply


NODE_CLASS = EpisodeManager


def main(argv=None):
    return run_node('episode_manager', __doc__.splitlines()[0], EpisodeManagerConfig, EpisodeManager, argv)


if __name__ == '__main__':
    raise SystemExit(main())
