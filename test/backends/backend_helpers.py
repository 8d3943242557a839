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
            log.append((dict(self.headers), body))
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
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    server = ThreadingHTTPServer(('127.0.0.1', 0), ChatCompletions)
    server.daemon_threads = True
    return server, log


# --- the smallest surface of interbotix_xs_modules' InterbotixManipulatorXS ------------------------

WX250S_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')


class FakeInterbotix:
    """bot.arm / bot.gripper / bot.core as WidowXRobot uses them, with a toy IK (fails beyond reach_x_m)."""

    def __init__(self, reach_x_m: float = 0.6):
        import threading
        from types import SimpleNamespace
        self.arm = _FakeArm(reach_x_m)
        self.gripper = SimpleNamespace(calls=[])
        self.gripper.grasp = lambda delay=1.0: self.gripper.calls.append('grasp')
        self.gripper.release = lambda delay=1.0: self.gripper.calls.append('release')
        names = (*WX250S_JOINTS, 'left_finger', 'right_finger')
        self.core = SimpleNamespace(js_mutex=threading.Lock(), js_index_map={n: i for i, n in enumerate(names)})
        arm = self.arm

        class JointStates:  # measured = commanded, plus a small sag the adapter must not integrate
            @property
            def position(self):
                return [*(np.asarray(arm.joints) + arm.sag), 0.03, -0.03]
        self.core.joint_states = JointStates()


class _FakeArm:
    HOME = np.array([[1.0, 0, 0, 0.30], [0, 1.0, 0, 0.0], [0, 0, 1.0, 0.25], [0, 0, 0, 1.0]])

    def __init__(self, reach_x_m):
        from types import SimpleNamespace
        self.group_info = SimpleNamespace(
            num_joints=6, joint_names=list(WX250S_JOINTS),
            joint_lower_limits=[-3.14, -1.88, -2.15, -3.14, -1.75, -3.14],
            joint_upper_limits=[3.14, 1.99, 1.61, 3.14, 2.15, 3.14],
            joint_velocity_limits=[3.14] * 6, joint_sleep_positions=[0, -1.80, 1.55, 0, 0.8, 0])
        self.reach_x_m = reach_x_m
        self.pose = self.HOME.copy()
        self.joints = np.zeros(6)
        self.sag = 0.0
        self.published = []
        self.solutions = {}
        self.calls = []
        self.pose_moves = []

    def _ik(self, pose):
        x, y, z = pose[:3, 3]
        return np.array([np.arctan2(y, x), 4 * (x - 0.30), -4 * (z - 0.25), pose[2, 1], -pose[2, 0], pose[1, 0]])

    def get_ee_pose_command(self):
        return self.pose.copy()

    def get_ee_pose(self):
        measured = self.pose.copy()
        measured[2, 3] -= 0.01  # gravity sag
        return measured

    def get_joint_commands(self):
        return list(self.joints)

    def set_ee_pose_matrix(self, T_sd, custom_guess=None, execute=True, moving_time=None, accel_time=None,
                           blocking=True):
        self.calls.append(('ik', custom_guess is not None))
        if T_sd[0, 3] > self.reach_x_m + 1e-9:
            return list(self.joints), False
        theta = self._ik(T_sd)
        self.solutions[tuple(np.round(theta, 9))] = np.array(T_sd)
        return list(theta), True

    def set_joint_positions(self, joint_positions, moving_time=None, accel_time=None, blocking=True):
        self.published.append(np.array(joint_positions))
        key = tuple(np.round(joint_positions, 9))
        self.joints = np.array(joint_positions)
        if key in self.solutions:
            self.pose = self.solutions[key]
        return True

    def go_to_home_pose(self, moving_time=None, accel_time=None, blocking=True):
        self.calls.append('home')
        self.pose_moves.append(('home', moving_time))
        self.pose, self.joints = self.HOME.copy(), np.zeros(6)

    def go_to_sleep_pose(self, moving_time=None, accel_time=None, blocking=True):
        self.calls.append('sleep')
        self.pose_moves.append(('sleep', moving_time))
        self.joints = np.array(self.group_info.joint_sleep_positions, dtype=float)
