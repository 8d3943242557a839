"""Options of the backends: one registered config per backend is the one place an option and its default live.

Each is filed as ('backend', '<argument>:<name>'), e.g. ('backend', 'vla:openpi') (sarl_ros.core.config);
values are checked against the declared types and choices when a node builds one (options_for).

The nodes' parameters (executor, proposer, reward), config/widowx_sarl.yaml
(scripts/write_config.py) and `--help` are derived from these fields; the nodes turn their
values back into an options object and pass every field to the backend, so a constructor's
own default never decides what the graph runs. A node parameter is the field name with the
backend's prefix, unless the field names its parameter itself.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, NamedTuple

from sarl_ros.core.config import Config, Setting, register_config, setting, settings


def option(default, description: str, choices: tuple[str, ...] = (), parameter: str = ''):
    """Declare a backend option: a config setting (sarl_ros.core.config), so nodes declare it like any other."""
    return setting(default, description, choices=choices, parameter=parameter)


@register_config('backend', 'robot:sim')
@dataclass(frozen=True)
class SimOptions(Config):
    """robot:=sim vla:=sim: the simulated tabletop (sarl_ros.sim.ros_stack.make_sim_stack)."""

    task: str = option('pot_lid_on_towel', 'Simulator scene until a reset names the episode manager\'s task')
    camera_width: int = option(256, 'Simulator camera width [px]')
    camera_height: int = option(256, 'Simulator camera height [px]')

    def kwargs(self) -> dict[str, Any]:
        return {'task': self.task, 'width': self.camera_width, 'height': self.camera_height}


@register_config('backend', 'robot:widowx')
@dataclass(frozen=True)
class WidowXOptions(Config):
    """robot:=widowx: the Interbotix arm (sarl_ros.backends.widowx.WidowXRobot)."""

    control_hz: float = option(5.0, 'Control rate of the real arm')
    moving_time_s: float = option(0.0, 'Interbotix moving time per pose target (0: 1.25 / control rate, as Bridge)')
    pose_source: str = option('command', 'Integrate deltas from the commanded or the measured pose',
                              ('command', 'measured'))
    robot_model: str = option('wx250s', 'Interbotix robot model')

    def kwargs(self) -> dict[str, Any]:
        return {'control_hz': self.control_hz, 'moving_time_s': self.moving_time_s or None,
                'pose_source': self.pose_source, 'robot_model': self.robot_model}


@register_config('backend', 'vla:openvla')
@dataclass(frozen=True)
class OpenVLAOptions(Config):
    """vla:=openvla: a local OpenVLA-style checkpoint (sarl_ros.backends.openvla.OpenVLAPolicy)."""

    model: str = option('openvla/openvla-7b', 'VLA checkpoint id or path')
    device: str = option('cuda:0', 'Torch device of the VLA')
    unnorm_key: str = option('bridge_orig', 'Action statistics key of the checkpoint')
    dtype: str = option('auto', 'Torch dtype (auto: bfloat16 on CUDA, float32 on CPU)')

    def kwargs(self) -> dict[str, Any]:
        return {'model': self.model, 'device': self.device, 'unnorm_key': self.unnorm_key, 'dtype': self.dtype}


@register_config('backend', 'vla:remote')
@dataclass(frozen=True)
class RemoteVLAOptions(Config):
    """vla:=remote: a VLA policy server (sarl_ros.backends.vla_client.RemoteVLA)."""

    server_url: str = option('http://127.0.0.1:8777', 'Policy server')
    unnorm_key: str = option('bridge_orig', 'Action statistics key of the checkpoint')
    timeout_s: float = option(10.0, 'Policy server timeout per request')
    retries: int = option(2, 'Retries of a failed policy server request')
    image_size: int = option(224, 'Downscale frames to this square size before sending (0: as captured)')
    token_env: str = option('SARL_VLA_TOKEN', "Environment variable holding the policy server's bearer token "
                            '(unset or empty: none); never logged')

    def kwargs(self) -> dict[str, Any]:
        import os
        return {'url': self.server_url, 'unnorm_key': self.unnorm_key, 'timeout_s': self.timeout_s,
                'retries': self.retries, 'image_size': self.image_size or None,
                'token': os.environ.get(self.token_env, '') or None}


@register_config('backend', 'vla:openpi')
@dataclass(frozen=True)
class OpenPIOptions(Config):
    """vla:=openpi: openpi's websocket policy server, e.g. pi0.5 (sarl_ros.backends.openpi_client.OpenPIVLA).

    The observation layout (keys, state, image size) must match the server's policy config; the
    defaults are those of openpi's LIBERO example, which a Bridge fine-tune of pi0.5 with the
    same input transforms shares. Action conventions: docs/real_robot.md, section 1b.
    """

    host: str = option('127.0.0.1', 'openpi policy server host (or a ws:// / wss:// URI)')
    port: int = option(8000, 'openpi policy server port (serve_policy.py\'s default; 0: none in the URI)')
    api_key_env: str = option('', 'Environment variable holding the key sent as "Authorization: Api-Key ..." '
                              '(empty: no key); never logged')
    image_key: str = option('observation/image', 'Observation key of the third-person camera frame')
    wrist_image_key: str = option('observation/wrist_image', 'Observation key of the wrist camera (the WidowX '
                                  'has none: a black frame is sent); empty: not sent')
    state_key: str = option('observation/state', 'Observation key of the robot state; empty: not sent')
    state_source: str = option('ee_pose', 'What the state is: ee_pose = end effector x y z roll pitch yaw [m, rad] '
                               'and gripper (1 open, 0 closed); ee_pose_padded = the same with a 0 before the '
                               'gripper (Open X-Embodiment\'s 8-D Bridge state); proprio = the robot\'s own '
                               '(WidowX: joints and gripper)', ('ee_pose', 'ee_pose_padded', 'proprio'))
    state_dim: int = option(0, 'Length of the state sent: cut or zero-padded to it (0: as the source gives it)')
    prompt_key: str = option('prompt', 'Observation key of the language command')
    resize: int = option(224, 'Frames are resized with padding to this square size, as openpi\'s examples (0: as '
                         'captured)')
    action_horizon: int = option(10, 'Actions of each returned chunk that are used at most')
    replan_steps: int = option(5, 'Actions executed from a chunk before the server is asked again '
                               '(openpi\'s ActionChunkBroker: = action_horizon)')
    action_frame: str = option('delta', 'The chunk\'s first six values: end-effector deltas (Bridge v2) or an '
                               'absolute pose x y z roll pitch yaw, turned into deltas from the current pose',
                               ('delta', 'absolute'))
    gripper_open: float = option(1.0, 'The policy\'s gripper value for open (Bridge v2: 1; LIBERO: -1)')
    gripper_closed: float = option(0.0, 'The policy\'s gripper value for closed (Bridge v2: 0; LIBERO: 1)')
    timeout_s: float = option(10.0, 'Policy server timeout per request')
    retries: int = option(2, 'Retries of a failed policy server request')

    def kwargs(self) -> dict[str, Any]:
        return {field_.name: getattr(self, field_.name) for field_ in fields(self)}


@register_config('backend', 'vlm:sim')
@dataclass(frozen=True)
class SimProposerOptions(Config):
    """vlm:=sim: the simulated VLM of the requested task (sarl_ros.sim.registry.SimulatedVLM)."""

    seed: int = option(0, 'Random seed of the simulated VLM')

    def kwargs(self) -> dict[str, Any]:
        return {'seed': self.seed}


@register_config('backend', 'vlm:openai')
@dataclass(frozen=True)
class OpenAIProposerOptions(Config):
    """vlm:=openai: an OpenAI-compatible chat endpoint (sarl_ros.backends.vlm_proposer.make_openai_proposer)."""

    model: str = option('gpt-4o', 'VLM model name, or a local model path')
    base_url: str = option('http://127.0.0.1:8000/v1', 'OpenAI-compatible endpoint')
    api_key_env: str = option('OPENAI_API_KEY', 'Environment variable holding the API key; never logged')
    timeout_s: float = option(20.0, 'Give up on a VLM call after this long')

    def kwargs(self) -> dict[str, Any]:
        return {'model': self.model, 'base_url': self.base_url, 'api_key_env': self.api_key_env,
                'timeout_s': self.timeout_s}


@register_config('backend', 'vlm:hf_vlm')
@dataclass(frozen=True)
class HFProposerOptions(Config):
    """vlm:=hf_vlm: a local transformers VLM (sarl_ros.backends.vlm_proposer.make_hf_proposer)."""

    model: str = option('gpt-4o', 'VLM model name, or a local model path')

    def kwargs(self) -> dict[str, Any]:
        return {'model': self.model}


@register_config('backend', 'detector:vlm')
@dataclass(frozen=True)
class VLMDetectorOptions(Config):
    """detector:=vlm: a VLM asked whether the task succeeded (sarl_ros.backends.detector.make_vlm_detector)."""

    backend: str = option('openai', 'VLM client', ('openai', 'hf_vlm'))
    model: str = option('gpt-4o', 'VLM model name, or a local model path')
    base_url: str = option('http://127.0.0.1:8000/v1', 'OpenAI-compatible endpoint')
    api_key_env: str = option('OPENAI_API_KEY', 'Environment variable holding the API key', parameter='api_key_env')
    timeout_s: float = option(20.0, 'Give up on one detector question after this long')
    min_confidence: float = option(0.6, 'Below this confidence the detector leaves the verdict undecided')

    def kwargs(self) -> dict[str, Any]:
        return {'backend': self.backend, 'model': self.model, 'base_url': self.base_url,
                'api_key_env': self.api_key_env, 'timeout_s': self.timeout_s, 'min_confidence': self.min_confidence}


def parameter_name(backend, f) -> str:
    # backend: a sarl_ros.backends.catalog.Backend (not imported: the catalog imports this module).
    return f.metadata.get('parameter') or backend.prefix + f.name


class ParameterSpec(NamedTuple):
    name: str
    default: Any
    description: str
    choices: tuple[str, ...]


def parameter_settings(backends) -> list[Setting]:
    """Return one node parameter per option of the backends (sarl_ros.backends.catalog), as a config field's Setting.

    An option several backends share appears once; its help names the backends that use it.
    """
    specs: dict[str, Setting] = {}
    users: dict[str, list[str]] = {}
    for backend in backends:
        if backend.options is None:
            continue
        by_name = {spec.name: spec for spec in settings(backend.options)}
        for f in fields(backend.options):
            name = parameter_name(backend, f)
            users.setdefault(name, []).append(f'{backend.argument}:={backend.name}')
            spec = by_name[f.name]._replace(name=name, parameter='')
            if name in specs and specs[name].default != spec.default:
                raise ValueError(f'option {name} has different defaults in {", ".join(users[name])}')
            specs[name] = spec
    return [spec._replace(help=f'{spec.help} ({"|".join(users[spec.name])})') for spec in specs.values()]


def parameter_specs(backends) -> list[ParameterSpec]:
    """Return one node parameter per option (name, default, description, choices)."""
    return [ParameterSpec(spec.name, spec.default, spec.help, spec.choices) for spec in parameter_settings(backends)]


def options_for(argument: str, name: str, values: dict[str, Any], backends):
    """Return the options object of a backend from node values (a missing value keeps the field default).

    None: the backend has no options, or is not one of backends (sarl_ros.backends.catalog).
    """
    for backend in backends:
        if (backend.argument, backend.name) == (argument, name) and backend.options is not None:
            given = {}
            for f in fields(backend.options):
                key = parameter_name(backend, f)
                if key in values:
                    given[f.name] = values[key]
                elif f.default is MISSING:
                    raise ValueError(f'backend {argument}:={name} needs parameter {key}')
            return backend.options(**given)
    return None
