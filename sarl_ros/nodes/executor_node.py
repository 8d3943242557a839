"""VLA executor: an action server that runs one prompt on the arm through the VLA.

Goal: prompt + control-step budget; feedback per control step; result: outcome, steps and
the state features after execution. Also: emergency stop (halts at once, latches), scene
reset (arm home; the simulator restores the scene itself), current state, and, with the
simulated robot, the simulator's camera and success check.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from sarl_ros.action import ExecutePrompt
from sarl_ros.backends.stack import build_stack
from sarl_ros.core.executor import CANCELLED, SKILL_DONE, execute_prompt
from sarl_ros.graph import description as g
from sarl_ros.msg import ExecutedAction, RewardSignal
from sarl_ros.nodes.runner import run_node
from sarl_ros.rosutil.images import from_image_msg, to_image_msg
from sarl_ros.rosutil.params import Param, declare_parameters
from sarl_ros.rosutil.qos import RECORD, SENSOR
from sarl_ros.srv import EmergencyStop, EvaluateEpisode, GetState, ResetScene

PARAMS = (
    Param('robot', 'sim', 'Robot backend', g.ROBOT_BACKENDS),
    Param('vla', 'sim', 'VLA backend', g.VLA_BACKENDS),
    Param('sim_task', 'sushi_to_pot', 'Simulator scene/task (robot:=sim)'),
    Param('seed', 0, 'Random seed of the simulator'),
    Param('max_control_steps', 12, 'Control steps per prompt when a goal asks for 0 (a pick takes 9-12)'),
    Param('realtime', False, 'Pace the simulator at control_hz (a real arm paces itself)'),
    Param('camera_topic', g.TOPIC_CAMERA, 'Images the VLA sees (real robot)'),
    Param('sim_camera_rate_hz', 5.0, 'Rate of the simulator camera topic; 0 disables rendering'),
    Param('sim_camera_width', 256, 'Simulator camera width [px]'),
    Param('sim_camera_height', 256, 'Simulator camera height [px]'),
    Param('vla_model', 'openvla/openvla-7b', 'VLA checkpoint id or path (vla:=openvla)'),
    Param('vla_device', 'cuda:0', 'Torch device of the VLA (vla:=openvla)'),
    Param('vla_unnorm_key', 'bridge_orig', 'Action statistics key of the checkpoint'),
    Param('vla_server_url', 'http://127.0.0.1:8777', 'Policy server (vla:=remote)'),
    Param('vla_dtype', 'auto', 'Torch dtype of vla:=openvla (auto: bfloat16 on CUDA, float32 on CPU)'),
    Param('vla_timeout_s', 10.0, 'Policy server timeout per request (vla:=remote)'),
    Param('vla_retries', 2, 'Retries of a failed policy server request (vla:=remote)'),
    Param('vla_image_size', 224, 'Downscale frames to this square size before sending (vla:=remote; 0: as captured)'),
    Param('state_featurizer', 'proprio_thumbnail', 'State features of a real robot for Q_sem',
          ('proprio', 'proprio_thumbnail', 'observable')),
    Param('widowx_control_hz', 5.0, 'Control rate of the real arm (robot:=widowx)'),
    Param('widowx_moving_time_s', 0.0, 'Interbotix moving time per pose target (0: 0.8 / control rate)'),
    Param('widowx_pose_source', 'command', 'Integrate deltas from the commanded or the measured pose',
          ('command', 'measured')),
)


class TopicCamera:
    """The latest frame of an image topic, as the Camera interface the executor reads."""

    def __init__(self, node: Node, topic: str):
        self._frame = None
        self._lock = threading.Lock()
        node.create_subscription(_image_type(), topic, self._on_image, SENSOR)

    def _on_image(self, msg):
        frame = from_image_msg(msg)
        with self._lock:
            self._frame = frame

    def read(self) -> np.ndarray:
        with self._lock:
            if self._frame is None:
                raise RuntimeError('no camera image received yet')
            return self._frame


def _image_type():
    from sensor_msgs.msg import Image
    return Image


class ExecutorNode(Node):
    def __init__(self, **node_options):
        # node_options: rclpy Node keyword arguments, e.g. parameter_overrides in tests.
        super().__init__('vla_executor', **node_options)
        self.p = declare_parameters(self, PARAMS)
        camera = None if self.p.robot == 'sim' else TopicCamera(self, self.p.camera_topic)
        self.stack = build_stack(self.p.robot, self.p.vla, vars(self.p), camera=camera)
        self._world_lock = threading.Lock()  # physics, rendering and state reads
        self._busy = threading.Lock()
        self._estopped = threading.Event()
        self._episode = 0
        reentrant = ReentrantCallbackGroup()
        self.actions_pub = self.create_publisher(ExecutedAction, g.TOPIC_EXECUTED_ACTIONS, RECORD)
        self.server = ActionServer(
            self, ExecutePrompt, g.ACTION_EXECUTE, execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=reentrant)
        # Emergency stop has its own group so it is served while a goal executes.
        self.create_service(EmergencyStop, g.SRV_EMERGENCY_STOP, self._on_estop,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(ResetScene, g.SRV_RESET_SCENE, self._on_reset, callback_group=reentrant)
        self.create_service(GetState, g.SRV_GET_STATE, self._on_get_state, callback_group=reentrant)
        if self.stack.sim is not None:
            self.create_service(EvaluateEpisode, g.SRV_SIM_SUCCESS, self._on_sim_success,
                                callback_group=reentrant)
            self.sim_image_pub = self.create_publisher(_image_type(), g.TOPIC_SIM_CAMERA, SENSOR)
            if self.p.sim_camera_rate_hz > 0:
                self.create_timer(1.0 / self.p.sim_camera_rate_hz, self._publish_sim_image,
                                  callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f'ready: robot={self.p.robot} vla={self.p.vla}')

    # --- action ---------------------------------------------------------------------------
    def _on_goal(self, goal):
        if self._estopped.is_set():
            self.get_logger().warning(f'rejecting goal {goal.prompt!r}: emergency stop engaged')
            return GoalResponse.REJECT
        if self._busy.locked():
            self.get_logger().warning(f'rejecting goal {goal.prompt!r}: another prompt is executing')
            return GoalResponse.REJECT
        if not goal.prompt.strip():
            self.get_logger().warning('rejecting a goal with an empty prompt')
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle):
        goal = goal_handle.request
        result = ExecutePrompt.Result()
        if not self._busy.acquire(blocking=False):
            goal_handle.abort()
            result.outcome, result.message = ExecutePrompt.Result.REJECTED, 'busy'
            return result
        try:
            return self._run_goal(goal_handle, goal, result)
        finally:
            self._busy.release()

    def _run_goal(self, goal_handle, goal, result):
        steps = goal.max_control_steps or self.p.max_control_steps
        period = 1.0 / self.stack.robot.control_hz if self.p.realtime else 0.0
        feedback = ExecutePrompt.Feedback()

        def on_step(step, action):
            feedback.control_steps_done = step
            feedback.last_action = [float(a) for a in action]
            goal_handle.publish_feedback(feedback)
            self.actions_pub.publish(ExecutedAction(
                episode=goal.episode, decision_step=goal.decision_step, control_step=step,
                prompt=goal.prompt, action=[float(a) for a in action]))
            if period:
                time.sleep(period)

        def should_stop():
            return self._estopped.is_set() or goal_handle.is_cancel_requested

        try:
            with self._world_lock:
                run = execute_prompt(self.stack.robot, self.stack.camera, self.stack.vla, goal.prompt,
                                     steps, should_stop=should_stop, on_step=on_step)
                result.state_features = self._features().tolist()
        except Exception as exc:  # noqa: BLE001 - a failing backend must not kill the node
            self.get_logger().error(f'executing {goal.prompt!r} failed: {exc}')
            goal_handle.abort()
            result.outcome, result.message = ExecutePrompt.Result.FAILED, str(exc)
            return result
        result.control_steps = run.control_steps
        result.clipped_steps = run.clipped_steps
        result.message = '; '.join(run.messages)
        if run.outcome == CANCELLED:
            if self._estopped.is_set():
                result.outcome = ExecutePrompt.Result.ESTOPPED
                goal_handle.abort()
            else:
                result.outcome = ExecutePrompt.Result.CANCELLED
                goal_handle.canceled()
            return result
        done_early = run.outcome == SKILL_DONE
        result.outcome = ExecutePrompt.Result.SKILL_DONE if done_early else ExecutePrompt.Result.COMPLETED
        goal_handle.succeed()
        return result

    # --- services -------------------------------------------------------------------------
    def _on_estop(self, request, response):
        if request.engage:
            self._estopped.set()
            self.stack.robot.halt()  # at once, not at the next control step
            self.get_logger().error(f'EMERGENCY STOP: {request.reason or "no reason given"}')
            response.message = 'engaged'
        else:
            self._estopped.clear()
            self.get_logger().warning('emergency stop released')
            response.message = 'released'
        response.success = True
        return response

    def _on_reset(self, request, response):
        if self._estopped.is_set():
            response.success, response.message = False, 'emergency stop engaged'
            return response
        with self._world_lock:
            self.stack.robot.home()
            if self.stack.sim is not None:
                self.stack.sim.reset_scene(seed=self.p.seed * 100003 + request.episode)
        response.success = True
        response.message = 'scene reset by the simulator' if self.stack.sim is not None else 'arm at home'
        return response

    def _on_get_state(self, request, response):
        with self._world_lock:
            response.state_features = self._features().tolist()
            rendering = self.stack.sim is not None and self.p.sim_camera_rate_hz > 0
            image = self.stack.sim.render() if rendering else None
        if image is not None:
            response.image = to_image_msg(image, stamp=self.get_clock().now().to_msg())
        response.stamp = self.get_clock().now().to_msg()
        response.success = True
        return response

    def _on_sim_success(self, request, response):
        with self._world_lock:
            success = bool(self.stack.sim.task_success())
        response.decided = True
        response.reward = RewardSignal(episode=request.episode, decision_step=request.decision_step,
                                       value=1.0 if success else 0.0, source=RewardSignal.SOURCE_DETECTOR,
                                       confidence=1.0, detail='simulator state')
        return response

    def _features(self) -> np.ndarray:
        return np.asarray(self.stack.featurizer.features(self._latest_frame(), self.stack.robot.proprio()),
                          np.float32)

    def _latest_frame(self):
        if self.stack.camera is None:
            return None  # the simulator's features come from its own state
        try:
            return self.stack.camera.read()
        except RuntimeError as exc:
            self.get_logger().warning(f'state features without an image: {exc}', throttle_duration_sec=10.0)
            return None

    def _publish_sim_image(self):
        if self._busy.locked():
            return  # keep physics fast while a prompt runs; frames resume between prompts
        with self._world_lock:
            image = self.stack.sim.render()
        self.sim_image_pub.publish(to_image_msg(image, stamp=self.get_clock().now().to_msg()))


NODE_CLASS = ExecutorNode


def main(argv=None):
    return run_node('vla_executor', __doc__.splitlines()[0], PARAMS, ExecutorNode, argv)


if __name__ == '__main__':
    raise SystemExit(main())
