"""Small models and test doubles shared by the backend tests (not a test module)."""
from __future__ import annotations

import numpy as np


class TinyTorchVLA:
    """A real torch network mapping (image, instruction) to a 7-D action; finishes after `steps_per_skill`."""

    def __init__(self, seed: int = 0, steps_per_skill: int = 3):
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.torch = torch
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, kernel_size=5, stride=4), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16 + 1, 7))
        self.steps_per_skill = steps_per_skill
        self.steps = 0
        self.resets = 0

    def reset(self):
        self.steps = 0
        self.resets += 1

    def act(self, image, instruction, proprio):
        torch = self.torch
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        features = self.net[:4](pixels)
        text = torch.tensor([[float(len(instruction))]])
        with torch.no_grad():
            action = torch.tanh(self.net[4](torch.cat([features, text], dim=1)))[0]
        self.steps += 1
        return action.numpy().astype(np.float64)

    def skill_done(self):
        return self.steps >= self.steps_per_skill


# --- a tiny randomly initialised LLaVA-style vision-to-text checkpoint --------------------------

VOCAB_WORDS = ('in : what action should the robot take to ? out put pick up place sushi pot cup drawer open close '
               'move gripper left right yes no the on of a and').split()
BASE_VOCAB = 320  # the last 256 ids are OpenVLA's action tokens
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
                 "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
                 "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
BRIDGE_STATS = {'bridge_orig': {'action': {
    'q01': [-0.03, -0.04, -0.02, -0.2, -0.15, -0.25, 0.0],
    'q99': [0.03, 0.04, 0.05, 0.2, 0.15, 0.25, 1.0],
    'mask': [True, True, True, True, True, True, False]}}}
REMOTE_MODEL_CODE = '''
import numpy as np
from transformers import LlavaForConditionalGeneration


class TinyOpenVLA(LlavaForConditionalGeneration):
    """Stands for OpenVLA's remote code: a model class with predict_action."""

    def predict_action(self, input_ids=None, unnorm_key=None, **kwargs):
        stats = (getattr(self, "norm_stats", None) or self.config.norm_stats)[unnorm_key]["action"]
        self.last_call = {"unnorm_key": unnorm_key, "prompt_length": int(input_ids.shape[1]),
                          "has_pixels": "pixel_values" in kwargs, "do_sample": kwargs.get("do_sample"),
                          "can_generate": callable(getattr(self, "generate", None))}
        return (np.asarray(stats["q01"]) + np.asarray(stats["q99"])) / 2
'''


def build_tiny_vision_to_text(directory, norm_stats=BRIDGE_STATS, remote_code=False, seed=0):
    """Save a random LLaVA (CLIP vision tower + Llama text model, ~100k parameters) with its processor."""
    import json
    import os

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)
    torch.manual_seed(seed)
    tokens = dict.fromkeys(['<unk>', '<s>', '</s>', '<pad>', *VOCAB_WORDS])  # unique, in order
    vocab = {token: i for i, token in enumerate(tokens)}
    while len(vocab) < BASE_VOCAB:
        vocab[f'tok{len(vocab)}'] = len(vocab)
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token='<unk>', bos_token='<s>',
                                        eos_token='</s>', pad_token='<pad>')
    tokenizer.add_special_tokens({'additional_special_tokens': ['<image>']})
    image_processor = CLIPImageProcessor(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy='default', num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=32, patch_size=8),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                max_position_embeddings=512),
        image_token_index=tokenizer.convert_tokens_to_ids('<image>'),
        vision_feature_select_strategy='default', vision_feature_layer=-1)
    if norm_stats is not None:
        config.norm_stats = norm_stats
    LlavaForConditionalGeneration(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    if remote_code:
        with open(os.path.join(directory, 'modeling_tiny_openvla.py'), 'w', encoding='utf-8') as f:
            f.write(REMOTE_MODEL_CODE)
        path = os.path.join(directory, 'config.json')
        with open(path, encoding='utf-8') as f:
            saved = json.load(f)
        # What OpenVLA's config.json says: its model class is remote code under AutoModelForVision2Seq.
        saved['auto_map'] = {'AutoModelForVision2Seq': 'modeling_tiny_openvla.TinyOpenVLA'}
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(saved, f)
    return str(directory)


# --- an OpenAI-compatible chat-completions server for tests ----------------------------------------

def make_chat_server(replies, delay_s: float = 0.0):
    """Return (server, log): each POST /v1/chat/completions answers the next of `replies`.

    A reply is a string (the assistant's content), a dict (the whole JSON answer) or an int
    (an HTTP status code). `log` collects (headers, body) of every request.
    """
    import json
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    queue = list(replies)
    log = []

    class ChatCompletions(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            log.append(({k.title(): v for k, v in self.headers.items()}, body))
            if self.path != '/v1/chat/completions':
                return self._send(404, {'error': {'message': 'not found'}})
            time.sleep(delay_s)
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(reply, int):
                return self._send(reply, {'error': {'message': f'status {reply}'}})
            if isinstance(reply, str):
                reply = {'id': 'chatcmpl-test', 'object': 'chat.completion', 'model': body['model'],
                         'choices': [{'index': 0, 'finish_reason': 'stop',
                                      'message': {'role': 'assistant', 'content': reply}}]}
            self._send(200, reply)

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                if status >= 400:
                    self.send_header('retry-after-ms', '10')  # keeps the SDK's retry backoff short in tests
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    server = ThreadingHTTPServer(('127.0.0.1', 0), ChatCompletions)
    server.daemon_threads = True
    return server, log


# --- a double of interbotix_xs_modules' InterbotixManipulatorXS and common_robot.robot ---------------

WX250S_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')


def toy_joints(pose) -> np.ndarray:
    """Invertible toy kinematics: position offsets scaled by 4, then the rotation vector of the orientation."""
    from sarl_ros.backends.arm_safety import rotation_angle
    pose = np.asarray(pose, dtype=np.float64)
    rotation = pose[:3, :3]
    angle = rotation_angle(rotation)
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    rotvec = np.zeros(3) if angle < 1e-12 else axis / np.linalg.norm(axis) * angle
    x, y, z = pose[:3, 3]
    return np.array([4 * y, 4 * (x - 0.30), -4 * (z - 0.25), *rotvec])


def toy_pose(joints) -> np.ndarray:
    """Return the pose of toy_joints' inverse."""
    from sarl_ros.backends.arm_safety import axis_angle_matrix
    joints = np.asarray(joints, dtype=np.float64)
    pose = np.eye(4)
    pose[:3, :3] = axis_angle_matrix(joints[3:], float(np.linalg.norm(joints[3:])))
    pose[:3, 3] = (0.30 + joints[1] / 4, joints[0] / 4, 0.25 - joints[2] / 4)
    return pose


class FakeInterbotix:
    """bot.arm / bot.gripper / bot.core and robot_startup / robot_shutdown, like the real API where it matters.

    - core.joint_states is a snapshot until robot_startup() spins the node; then every read sees
      a new message with the arm's physical state (commanded joints plus `arm.sag`).
    - gripper.grasp / release drop the command when the finger reads at that limit (from the
      joint states the API has, stale or not); the physical finger moves only on a published
      command; the 20 ms timer that zeroes the effort at the limit runs only while spun.
    - arm.set_joint_positions refuses targets outside the joint or velocity limits (judged against
      the previous moving time and the last commands, as the API does) and publishes nothing.
    - IK (a toy, invertible) fails beyond reach_x_m.
    """

    FINGER_LIMITS = (0.015, 0.037)

    def __init__(self, reach_x_m: float = 0.6, start_joints=None):
        self.spun = False
        self.shut_down = False
        self.finger = self.FINGER_LIMITS[1]  # physical left finger position: open
        self.arm = _FakeArm(self, reach_x_m, start_joints)
        self.gripper = _FakeGripper(self)
        self.core = _FakeCore(self)
        self._snapshot = self._message()

    def _message(self):
        from types import SimpleNamespace
        measured = np.asarray(self.arm.joints) + self.arm.sag
        return SimpleNamespace(position=[*measured, self.finger, -self.finger])

    # common_robot.robot
    def robot_startup(self, node=None):
        if self.spun:
            raise RuntimeError('Startup has already been requested.')
        self.spun = True

    def robot_shutdown(self, node=None):
        self.spun, self.shut_down = False, True


class _FakeCore:
    def __init__(self, bot):
        import threading
        self.bot = bot
        self.js_mutex = threading.Lock()
        self.js_index_map = {n: i for i, n in enumerate((*WX250S_JOINTS, 'left_finger', 'right_finger'))}

    @property
    def joint_states(self):
        return self.bot._message() if self.bot.spun else self.bot._snapshot


class _FakeGripper:
    def __init__(self, bot):
        self.bot = bot
        self.calls = []  # published commands
        self.dropped = []  # commands the API dropped at a limit
        self.gripper_moving = False
        self.effort = 0.0
        self.left_finger_lower_limit, self.left_finger_upper_limit = bot.FINGER_LIMITS
        self.gripper_info = type('Info', (), {'mode': 'pwm'})()

    def get_finger_position(self):
        core = self.bot.core
        return core.joint_states.position[core.js_index_map['left_finger']]

    def _command(self, name, effort):
        position = self.get_finger_position()
        if (effort > 0 and position < self.left_finger_upper_limit) or \
                (effort < 0 and position > self.left_finger_lower_limit):
            self.calls.append(name)
            self.effort, self.gripper_moving = effort, True
            self.bot.finger = self.left_finger_upper_limit if effort > 0 else self.left_finger_lower_limit
            if self.bot.spun:  # the 20 ms timer sees the finger at its limit and zeroes the effort
                self.effort, self.gripper_moving = 0.0, False
        else:
            self.dropped.append(name)

    def release(self, delay=1.0):
        self._command('release', 250.0)

    def grasp(self, delay=1.0):
        self._command('grasp', -250.0)


class _FakeArm:
    def __init__(self, bot, reach_x_m, start_joints):
        from types import SimpleNamespace
        self.bot = bot
        self.group_info = SimpleNamespace(
            num_joints=6, joint_names=list(WX250S_JOINTS), mode='position', profile_type='time',
            joint_lower_limits=[-3.14, -1.88, -2.15, -3.14, -1.75, -3.14],
            joint_upper_limits=[3.14, 1.99, 1.61, 3.14, 2.15, 3.14],
            joint_velocity_limits=[3.14] * 6, joint_sleep_positions=[0, -1.80, 1.55, 0, 0.8, 0])
        self.reach_x_m = reach_x_m
        if start_joints is None:  # gripper pointing down at (0.30, 0, 0.25)
            down = np.eye(4)
            down[:3, :3] = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]
            down[:3, 3] = (0.30, 0.0, 0.25)
            start_joints = toy_joints(down)
        self.joints = np.asarray(start_joints, dtype=np.float64)
        self.joint_commands = self.joints.copy()
        self.moving_time, self.accel_time = 2.0, 0.3
        self.register_writes = 0
        self.sag = 0.0
        self.published = []
        self.refused = []
        self.calls = []
        self.pose_moves = []
        self.timings = []

    def get_ee_pose_command(self):
        return toy_pose(self.joint_commands)

    def get_ee_pose(self):
        core = self.bot.core
        states = core.joint_states
        return toy_pose([states.position[core.js_index_map[n]] for n in WX250S_JOINTS])

    def get_joint_commands(self):
        return list(self.joint_commands)

    def set_ee_pose_matrix(self, T_sd, custom_guess=None, execute=True, moving_time=None, accel_time=None,
                           blocking=True):
        self.calls.append(('ik', custom_guess is not None))
        if T_sd[0, 3] > self.reach_x_m + 1e-9:
            return list(self.joints), False
        return list(toy_joints(T_sd)), True

    def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None, blocking=True):
        theta = np.asarray(joint_positions, dtype=np.float64)
        info = self.group_info
        speed = np.abs(theta - self.joint_commands) / self.moving_time
        if np.any(theta < info.joint_lower_limits) or np.any(theta > info.joint_upper_limits) or \
                np.any(speed > info.joint_velocity_limits):
            self.refused.append(theta)
            return False
        self.set_trajectory_time(moving_time, accel_time)
        self.timings.append((moving_time, accel_time, blocking))
        self.published.append(theta)
        self.joint_commands = theta.copy()
        self.joints = theta.copy()
        return True

    def set_trajectory_time(self, moving_time=None, accel_time=None):
        if moving_time is not None and moving_time != self.moving_time:
            self.moving_time = moving_time
            self.register_writes += 1
        if accel_time is not None and accel_time != self.accel_time:
            self.accel_time = accel_time
            self.register_writes += 1

    def go_to_home_pose(self, moving_time=None, accel_time=None, blocking=True):
        self.calls.append('home')
        self.pose_moves.append(('home', moving_time))
        self.joints, self.joint_commands = np.zeros(6), np.zeros(6)

    def go_to_sleep_pose(self, moving_time=None, accel_time=None, blocking=True):
        self.calls.append('sleep')
        self.pose_moves.append(('sleep', moving_time))
        self.joints = np.array(self.group_info.joint_sleep_positions, dtype=float)
        self.joint_commands = self.joints.copy()
