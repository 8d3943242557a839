"""Semantic Q-policy: owns the learner, chooses prompts, learns between steps.

select_prompt scores the candidates and samples one from softmax(Q / temperature) and
publishes the decision; store_transition adds a transition to replay and to a write-ahead
log before it answers, so an acknowledged transition survives a kill; TD updates run on a
background thread while the rest of the graph works (the executor moves the arm, the VLM
proposes), and the next decision and the episode's end wait for the updates queued before
them, so what the learner knows at a decision never depends on timing (the same seed, the
same run); a checkpoint is written after every episode (atomically). On start the node
resumes from <output_dir>/checkpoints (plus the log), else warm-starts from a given
checkpoint, else starts fresh. The MiniLM sentence encoder loads in the background: the node
serves as soon as torch is imported, and only a decision that needs the encoder waits for it.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from sarl_ros.core.durability.durable import DurablePolicy
from sarl_ros.backends.catalog import task_catalogs
from sarl_ros.core.events import CORRECTED_BY_OPERATOR, END_KINDS, EventKind
from sarl_ros.core.mdp import Observation
from sarl_ros.core.methods import SARL_METHODS, make_policy, method_defaults
from sarl_ros.core.relabel import relabel_last_transition
from sarl_ros.core.sarl.pool import seed_pool
from sarl_ros.core.tasks import resolve_task
from sarl_ros.core.perception.text_encoding import preload_minilm
from sarl_ros import names
from sarl_ros.msg import CandidateSet, EpisodeEvent, InstructionPool, LearnerStats, Transition as TransitionMsg
from sarl_ros.node_configs import PolicyConfig
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.convert import candidates_from_msgs, decision_to_msg, features_array, transition_from_msg
from sarl_ros.rosutil.idempotent import RepeatLastReply
from sarl_ros.rosutil.params import declare_parameters
from sarl_ros.rosutil.qos import LATCHED, RECORD, RECORD_LISTEN
from sarl_ros.srv import ReportOutcome, SelectPrompt, StoreTransition

SARL = method_defaults('sarl')  # the learner's defaults live in its SarlConfig only
# Learner options the node exposes; a method that does not take one ignores it, and a SARL variant
# keeps its own value of an option left at the base default (e.g. sarl_nodemo's demonstrations).
LEARNER_OPTIONS = ('temperature', 'temperature_final', 'temperature_halflife', 'gamma', 'pool_capacity')

# TD updates the learner thread runs between two looks at the closing flag: closing waits
# for one update at most (0.4-0.6 s measured on a loaded 2-core machine), not for a backlog.
UPDATES_PER_CHUNK = 1
LEARNER_JOIN_S = 0.5


class PolicyNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('q_policy', **node_options)
        self.p = declare_parameters(self, PolicyConfig)
        if self.p.torch_threads < 1:
            raise ValueError(f'q_policy.torch_threads must be at least 1, got {self.p.torch_threads}')
        import torch
        torch.set_num_threads(self.p.torch_threads)
        checkpoints = Path(self.p.output_dir) / 'checkpoints'
        self.checkpoint_path = checkpoints / f'{self.p.method}.pt'
        # The sentence encoder is needed at the first decision, not to serve: it loads while the graph starts
        # (from the moment the policy asks for it; a method without an encoder loads nothing).
        # Only the text-prompt learners have a sentence encoder (the paper's sarl knows prompts by identity).
        uses_text = self.p.method in ('sarl_text', 'sarl_textprompt')
        self._encoder_load = preload_minilm() if uses_text and self.p.encoder in ('auto', 'minilm') else None
        accepted = method_defaults(self.p.method)
        options = {name: getattr(self.p, name) for name in LEARNER_OPTIONS
                   if name in accepted and not (self.p.method in SARL_METHODS and getattr(self.p, name) == SARL[name])
                   and not (name == 'gamma' and self.p.gamma == 0)}
        self.durable = DurablePolicy.open(
            self.checkpoint_path, checkpoints / f'{self.p.method}.wal',
            lambda: make_policy(self.p.method, seed=self.p.seed, encoder=self.p.encoder, **options),
            warm_start=self.p.warm_start, sync=self.p.wal_sync)
        self.policy = self.durable.policy
        report = self.durable.report
        if self.p.pool_file and report.source == 'fresh':
            joined = seed_pool(self.policy, self.p.pool_file)
            self.get_logger().info(f'instruction pool seeded with {joined} prompts from {self.p.pool_file}')
        if report.source != 'fresh':
            origin = self.checkpoint_path if report.source == 'resumed' else self.p.warm_start
            self.get_logger().info(f'{report.source} from {origin}: {report.episodes} episodes, '
                                   f'{self.policy.transitions} transitions '
                                   f'({report.replayed} replayed from the write-ahead log)')
        self.episodes = self.policy.episodes
        self.transitions = self.policy.transitions
        self.updates = 0
        self.successes: list[bool] = []
        self.last_stats: dict = {}
        # Replayed transitions get the learning they were owed before the kill.
        self._pending_updates = report.replayed * self.p.updates_per_decision
        self._updating = False  # the learner thread is running an update taken off the queue
        self._work = threading.Condition()
        self._closing = False
        self._learner = threading.Thread(target=self._learn_loop, name='td-learner', daemon=True)
        self._learner.start()

        self.candidates_pub = self.create_publisher(CandidateSet, names.TOPIC_CANDIDATES, RECORD)
        self.transitions_pub = self.create_publisher(TransitionMsg, names.TOPIC_TRANSITIONS, RECORD)
        self.stats_pub = self.create_publisher(LearnerStats, names.TOPIC_LEARNER_STATS, RECORD)
        # The instruction pool (SARL variants), latched: the episode manager passes it to the proposer once
        # frozen, the console and the bag show it. Published whenever it grows.
        self.pool_pub = self.create_publisher(InstructionPool, names.TOPIC_INSTRUCTION_POOL, LATCHED)
        self._pool_size = -1
        self._publish_pool()
        group = MutuallyExclusiveCallbackGroup()  # decisions, transitions and events in order
        # A retried request (its reply lost) must get the same prompt, not a second sample.
        self.create_service(SelectPrompt, names.SRV_SELECT, RepeatLastReply(self._on_select), callback_group=group)
        self.create_service(StoreTransition, names.SRV_STORE_TRANSITION, self._on_store, callback_group=group)
        self.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, self._on_event, RECORD_LISTEN, callback_group=group)
        # A corrected verdict: the episode that just ended gets the reward the operator gave.
        self._last_ended: tuple[int, int] | None = None  # (episode, transitions stored when it ended)
        self.create_service(ReportOutcome, names.SRV_RELABEL_EPISODE, self._on_relabel, callback_group=group)
        # The encoder the learner really uses (encoder:=auto resolves to minilm or hashing).
        encoder = getattr(getattr(getattr(self.policy, 'learner', None), 'encoder', None), 'name', None)
        loading = f' encoder={encoder}' if encoder else ''
        if self._encoder_load is not None and encoder == 'minilm':
            loading += ' (loading in the background)'
            threading.Thread(target=self._report_encoder, name='encoder-report', daemon=True).start()
        self.get_logger().info(f'ready: method={self.p.method} checkpoint={self.checkpoint_path}{loading}')

    def _report_encoder(self):
        self._encoder_load.wait()
        if self._encoder_load.error is not None:
            self.get_logger().error(f'the MiniLM sentence encoder did not load ({self._encoder_load.error}); '
                                    'decisions will be refused: set encoder: hashing under q_policy in the '
                                    'parameter file (config:=)')
        else:
            self.get_logger().info(f'MiniLM sentence encoder loaded in {self._encoder_load.seconds:.1f} s')

    def _on_select(self, request, response):
        # The updates queued by earlier transitions come first: the choice (and the RNG draw behind it)
        # then depends on what was stored, never on how far the learner thread happened to get.
        self._learned()
        try:
            candidates = candidates_from_msgs(request.candidates, request.vlm_scores)
            observation = Observation(features=features_array(request.state_features))
            if request.decision_step == 0:
                budget = resolve_task(request.task, task_catalogs(), self.p.max_decisions).max_decisions
                self.policy.begin_episode(request.task, max_decisions=budget)
            decision = self.policy.select(observation, candidates, request.task, greedy=request.greedy)
        except (ValueError, RuntimeError) as exc:  # RuntimeError: the sentence encoder did not load
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f'select_prompt refused: {exc}')
            return response
        msg = decision_to_msg(decision, candidates, episode=request.episode, step=request.decision_step,
                              task=request.task, method=self.p.method)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.candidates_pub.publish(msg)
        self._publish_pool()
        response.success, response.decision = True, msg
        return response

    def _publish_pool(self):
        pool = getattr(self.policy, 'pool', None)
        if pool is None or len(pool) == self._pool_size:
            return
        self._pool_size = len(pool)
        msg = InstructionPool(method=self.p.method, capacity=pool.capacity, frozen=pool.frozen,
                              prompts=list(pool.prompts))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pool_pub.publish(msg)
        if pool.frozen:
            self.get_logger().info(f'the instruction pool is full ({pool.capacity} prompts): from now on the VLM '
                                   'chooses candidates from it')

    def _on_store(self, request, response):
        msg = request.transition
        try:
            self.durable.record(transition_from_msg(msg))
        except (ValueError, OSError) as exc:
            # OSError: not in the write-ahead log, so it must not be acknowledged as stored.
            response.accepted, response.message = False, str(exc)
            self.get_logger().error(f'transition refused: {exc}')
            return response
        self.transitions = self.policy.transitions
        self.transitions_pub.publish(msg)
        self._publish_pool()
        with self._work:
            self._pending_updates += self.p.updates_per_decision
            self._work.notify_all()
        response.accepted, response.replay_size = True, self.transitions
        return response

    def _on_event(self, event):
        if event.type not in END_KINDS or event.detail.startswith(CORRECTED_BY_OPERATOR):
            return  # a correction is no second end: the relabel service changed the reward
        success = event.type == EventKind.SUCCESS
        self._learned()  # the episode's updates belong to it (and to its checkpoint), at its temperature
        self.policy.end_episode(success)
        self.episodes += 1
        self._last_ended = (event.episode, self.policy.transitions)
        if event.type != EventKind.ABORTED:  # an aborted episode is neither a success nor a failure
            self.successes.append(success)
        self._save_checkpoint()
        self._publish_stats()

    def _on_relabel(self, request, response):
        success = request.outcome == ReportOutcome.Request.SUCCESS
        if request.outcome not in (ReportOutcome.Request.SUCCESS, ReportOutcome.Request.FAILURE):
            response.accepted, response.message = False, 'a correction is success or failure'
        elif self._last_ended is None or self._last_ended[0] != request.episode:
            response.accepted, response.message = False, f'episode {request.episode} is not the last one ended'
        elif self._last_ended[1] != self.policy.transitions:
            response.accepted, response.message = False, 'transitions were stored since the episode ended'
        else:
            try:
                changed = relabel_last_transition(self.policy, 1.0 if success else 0.0)
            except ValueError as exc:
                response.accepted, response.message = False, str(exc)
                return response
            if self.successes:
                self.successes[-1] = success  # the recent success rate follows
            self._save_checkpoint()  # the log still holds the old reward: the checkpoint now covers it
            response.accepted = True
            response.message = f'episode {request.episode}: reward {float(success)} ({changed} buffer(s))'
            self.get_logger().info(f'relabelled {response.message}')
        return response

    def _learn_loop(self):
        while True:
            with self._work:
                while not self._pending_updates and not self._closing:
                    self._work.wait()
                if self._closing:
                    return
                batch = min(self._pending_updates, UPDATES_PER_CHUNK)
                self._pending_updates -= batch
                self._updating = True
            try:
                stats = self.policy.update(batch)
                self.updates += int(stats.get('updates', batch)) if stats else 0
                self.last_stats = stats or {}
            finally:
                with self._work:
                    self._updating = False
                    self._work.notify_all()

    def _learned(self):
        """Wait until every queued TD update has run (a few ms each).

        The learner's state is then a function of the stored transitions alone, so the same seed gives
        the same decisions in every run.
        """
        with self._work:
            self._work.wait_for(lambda: self._closing or not (self._pending_updates or self._updating))

    def _save_checkpoint(self):
        try:
            self.durable.checkpoint()
        except OSError as exc:
            self.get_logger().error(f'checkpoint not written to {self.checkpoint_path}: {exc}')

    def _publish_stats(self):
        recent = self.successes[-10:]
        msg = LearnerStats(method=self.p.method, episodes=self.episodes, transitions=self.transitions,
                           updates=self.updates, td_loss=float(self.last_stats.get('td_loss', 0.0)),
                           mean_q=float(self.last_stats.get('mean_q', 0.0)),
                           temperature=float(getattr(self.policy, 'current_temperature', self.p.temperature)),
                           recent_success_rate=sum(recent) / len(recent) if recent else 0.0)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.stats_pub.publish(msg)

    def close(self):
        with self._work:
            self._closing = True
            self._work.notify_all()
        # The policy's lock makes the snapshot wait for the one update in progress, if any.
        if self.transitions:
            self._save_checkpoint()
        self._learner.join(timeout=LEARNER_JOIN_S)
        self.durable.close()


NODE_CLASS = PolicyNode


def main(argv=None):
    os.environ.setdefault('HF_HUB_OFFLINE', '1')  # the sentence encoder loads from its package, offline
    return run_node('q_policy', __doc__.splitlines()[0], PolicyConfig, PolicyNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
