"""One registered config per node: every ROS parameter of the graph, declared once with type, default, range and help.

The nodes declare their parameters from these classes (sarl_ros.rosutil.params.declare_parameters),
config/widowx_sarl.yaml is written from them (scripts/write_config.py; a test keeps the two equal),
the launch arguments take default, type, choices and range from the fields they target
(sarl_ros.graph.description) and `ros2 run sarl_ros <node> --help` lists them. Options a node shares
with the SARL learner take SarlConfig's field (setting_of), and the backends' options come from their
option classes (sarl_ros.backends.options, listed in sarl_ros.backends.catalog). Importable without ROS:
the graph's description, write_config and the nodes all read it.
"""
from __future__ import annotations

from dataclasses import dataclass, make_dataclass

from sarl_ros.backends.featurizers import STATE_FEATURIZER_CHOICES
from sarl_ros.core.perception.image_encoders import DEFAULT_IMAGE_ENCODER, IMAGE_ENCODERS
from sarl_ros import names
from sarl_ros.backends import catalog
from sarl_ros.backends.catalog import DETECTOR_BACKENDS, EXECUTOR_BACKENDS, PROPOSER_BACKENDS
from sarl_ros.backends.options import parameter_settings
from sarl_ros.core.config import Config, register_config, setting, setting_of
from sarl_ros.core.durability.wal import SYNC_MODES
from sarl_ros.core.episode_loop import UPDATES_PER_DECISION
from sarl_ros.core.online_run import RunConfig, run_default
from sarl_ros.core.method_names import DEFAULT_METHOD, METHODS
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER, ENCODERS
from sarl_ros.core.proposals import MAX_CANDIDATES
from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.rosutil.bag_storages import DEFAULT_STORAGE, STORAGES

# Where the graph's runs go unless output_dir:= says otherwise (the launch argument and four nodes).
DEFAULT_OUTPUT_DIR = run_default('output_dir')


def _with_backend_options(cls: type, backends) -> type:
    """Return cls extended by one field per backend option the node passes on (after its own fields)."""
    extra = [(spec.name, spec.kind,
              setting(spec.default, spec.help, low=spec.low, high=spec.high, choices=spec.choices))
             for spec in parameter_settings(backends)]
    return make_dataclass(cls.__name__, extra, bases=(cls,), frozen=True,
                          namespace={'__doc__': cls.__doc__, '__module__': cls.__module__})


@dataclass(frozen=True)
class _ExecutorOwn(Config):
    """vla_executor: runs prompts on the robot through the VLA (sarl_ros.nodes.executor_node)."""

    robot: str = setting('sim', 'Robot backend', choices=catalog.names(catalog.ROBOT))
    vla: str = setting('sim', 'VLA backend', choices=catalog.names(catalog.VLA))
    seed: int = setting(0, 'Random seed of the simulator', low=0)
    max_control_steps: int = setting(12, 'Control steps per prompt when a goal asks for 0 (a pick takes 9-12)', low=1)
    realtime: bool = setting(False, 'Pace the simulator at control_hz (a real arm paces itself)')
    camera_topic: str = setting(names.TOPIC_CAMERA, 'Images the VLA sees (real robot)')
    sim_camera_rate_hz: float = setting(5.0, 'Rate of the simulator camera topic; 0 disables rendering', low=0.0)
    state_featurizer: str = setting('auto', 'Q_sem state; auto: observable, on the simulator the task default '
                                    '(legacy tasks: oracle, privileged)', choices=STATE_FEATURIZER_CHOICES)
    image_encoder: str = setting(DEFAULT_IMAGE_ENCODER, "Image code in a real robot's observable state: colour_layout "
                                 '(what the simulated benchmark trains with), thumbnail, or pretrained (image_model); '
                                 'another than the training one needs retraining', choices=IMAGE_ENCODERS)
    image_model: str = setting('', 'transformers vision model name or directory (image_encoder:=pretrained)')


# Every backend option, from the backends' option classes (sarl_ros.backends.options).
ExecutorConfig = register_config('node', 'vla_executor')(_with_backend_options(_ExecutorOwn, EXECUTOR_BACKENDS))


@register_config('node', 'camera')
@dataclass(frozen=True)
class CameraConfig(Config):
    """camera: publishes the scene camera (sarl_ros.nodes.camera_node)."""

    backend: str = setting('relay', 'Image source', choices=catalog.names(catalog.CAMERA))
    rate_hz: float = setting(10.0, 'Publishing rate')  # the node says 'must be positive'
    source_topic: str = setting(names.TOPIC_SIM_CAMERA, 'Topic to relay (backend:=relay)')
    device: str = setting('0', 'OpenCV device index or video path (backend:=opencv)')
    width: int = setting(640, 'Requested width [px] (backend:=opencv)', low=1)
    height: int = setting(480, 'Requested height [px] (backend:=opencv)', low=1)
    fourcc: str = setting('', "Pixel format of a device, e.g. MJPG (backend:=opencv; empty: the driver's default)")
    frame_id: str = setting('camera', 'frame_id of the published images')
    fov_deg: float = setting(60.0, 'Horizontal field of view for CameraInfo', low=0.0, high=360.0)


@dataclass(frozen=True)
class _ProposerOwn(Config):
    """vlm_proposer: asks the VLM for candidate prompts (sarl_ros.nodes.proposer_node)."""

    backend: str = setting('sim', 'Proposer backend', choices=catalog.names(catalog.VLM))
    max_candidates: int = setting(MAX_CANDIDATES, 'Candidates per call when a request asks for 0', low=1)
    cache_max_reuses: int = setting(0, "Serve a state cluster's candidate set this many times before asking the "
                                    'VLM again (0: ask at every step)', low=0)
    cache_resolution: float = setting(0.05, 'State features are quantised by this step to form clusters')
    cache_memory_size: int = setting(2, 'Prompts that made progress in a cluster, added to its candidates', low=0)
    cache_feature_dims: str = setting('', 'Comma-separated feature indices that define a cluster (empty: all)')
    offer_return_to_start: bool = setting(False, 'Also offer "return to the start pose", run by the arm\'s own '
                                          'controller (no VLA), as one of the candidates')


ProposerConfig = register_config('node', 'vlm_proposer')(_with_backend_options(_ProposerOwn, PROPOSER_BACKENDS))


@register_config('node', 'q_policy')
@dataclass(frozen=True)
class PolicyConfig(Config):
    """q_policy: the prompt-selection method and its learner (sarl_ros.nodes.policy_node)."""

    method: str = setting(DEFAULT_METHOD, 'Prompt-selection method', choices=METHODS)
    seed: int = setting(0, 'Random seed', low=0)
    encoder: str = setting(DEFAULT_ENCODER, 'Prompt encoder: minilm, hashing, or auto (minilm when installed)',
                           choices=ENCODERS)
    # The learner's options: SarlConfig's fields (default, range), passed on to the methods that take them.
    temperature: float = setting_of(SarlConfig, 'temperature', 'Initial softmax temperature (sarl)')
    temperature_final: float = setting_of(SarlConfig, 'temperature_final', 'Temperature the schedule decays to (sarl)')
    temperature_halflife: float = setting_of(SarlConfig, 'temperature_halflife', 'Learning episodes for the '
                                             'temperature to halve its distance to the final value (sarl)')
    gamma: float = setting_of(SarlConfig, 'gamma', "Discount per decision step (0: the method's own; sarl: 1 - 1/H, "
                              'H the decision budget)')
    max_decisions: int = setting(0, "Decision budget H the SARL learner plans for (0: the task's, as the episode "
                                 'manager resolves it; set both nodes alike when overriding)', low=0)
    pool_capacity: int = setting_of(SarlConfig, 'pool_capacity', 'Instruction pool size K (sarl variants)')
    pool_file: str = setting('', 'JSON list of prompts that seed a fresh instruction pool first (sarl variants; '
                             'empty: none)')
    # Not SarlConfig's updates_per_decision (4, what sarl-bench runs SARL with): the node has always queued
    # the drivers' default for every method, and a default change would change what the graph learns.
    updates_per_decision: int = setting(UPDATES_PER_DECISION, 'TD updates queued per stored transition', low=0)
    output_dir: str = setting(DEFAULT_OUTPUT_DIR, 'Checkpoints go to <output_dir>/checkpoints')
    warm_start: str = setting('', 'Checkpoint to start from when output_dir has none (empty: a fresh learner)')
    torch_threads: int = setting(1, 'CPU threads torch may use (a small network: on a shared 2-core machine 8 TD '
                                 'updates took 46 ms with 1 thread and 550-850 ms with 2)')
    wal_sync: str = setting('fsync', 'Write-ahead log durability before a transition is acknowledged: fsync '
                            '(power cut), flush (killed process), none', choices=SYNC_MODES)


@dataclass(frozen=True)
class _RewardOwn(Config):
    """reward: decides each episode's success (sarl_ros.nodes.reward_node)."""

    detector: str = setting('sim', 'Success detector backend', choices=catalog.names(catalog.DETECTOR))
    human: bool = setting(False, 'Ask a human at the end of each episode')
    keyboard: bool = setting(True, 'With human:=true, also prompt on this terminal (when it is one)')
    human_timeout_s: float = setting(120.0, 'Wait this long for a human verdict', low=0.0)
    camera_topic: str = setting(names.TOPIC_CAMERA, 'Frames the detector judges when a request carries no image')


RewardConfig = register_config('node', 'reward')(_with_backend_options(_RewardOwn, DETECTOR_BACKENDS))


@register_config('node', 'episode_manager')
@dataclass(frozen=True)
class EpisodeManagerConfig(Config):
    """episode_manager: runs the episodes (sarl_ros.nodes.episode_manager_node)."""

    # The run's settings are RunConfig's (sarl_ros.core.online_run): one default for the demo, the bench and the graph.
    task: str = setting_of(RunConfig, 'task')
    episodes: int = setting_of(RunConfig, 'episodes', low=1)
    seed: int = setting_of(RunConfig, 'seed')
    max_decisions: int = setting(0, 'Decision budget per episode (0: the simulator task default, else 8)', low=0)
    control_steps: int = setting(0, 'Control steps per prompt (0: the executor default)', low=0)
    max_candidates: int = setting_of(RunConfig, 'max_candidates')
    reset_mode: str = setting('auto', 'auto: the simulator resets the scene; operator: wait for a person',
                              choices=names.RESET_MODES)
    reset_reminder_s: float = setting(30.0, 'Repeat the reset request this often while waiting')
    autostart: bool = setting(True, 'Start episodes by themselves (false: wait for /sarl/start_episode)')
    service_timeout_s: float = setting(30.0, 'Timeout of one service call or action')
    ready_timeout_s: float = setting(120.0, 'Deadline for every node this one calls to be ready before the first '
                                     'episode (a loading model is waited for; a node missing after it stops the '
                                     'graph, named)')
    verdict_timeout_s: float = setting(180.0, "Wait this long for an episode's final verdict (a person may be asked: "
                                       'keep it above reward.human_timeout_s)')
    retries: int = setting(2, 'Retries of a failed proposal or execution before the step is skipped', low=0)
    greedy: bool = setting_of(RunConfig, 'greedy')
    output_dir: str = setting_of(RunConfig, 'output_dir', 'episodes.csv goes here')


@register_config('node', 'recorder')
@dataclass(frozen=True)
class RecorderConfig(Config):
    """recorder: writes the run's rosbag2 (sarl_ros.nodes.recorder_node)."""

    output_dir: str = setting(DEFAULT_OUTPUT_DIR, 'The bag goes to <output_dir>/bag (bag_2, bag_3, ... when it '
                              'exists)')
    storage: str = setting(DEFAULT_STORAGE, 'rosbag2 storage format', choices=STORAGES)
    image_decimation: int = setting(5, 'Record every Nth camera image (1: all)')
    topics: list[str] = setting(list(names.RECORDED_TOPICS), 'Topics to record (any of the SARL and camera topics)')
    flush_period_s: float = setting(1.0, 'Write buffered messages to disk this often (what a crash can lose)')


@register_config('node', 'operator_console')
@dataclass(frozen=True)
class OperatorConsoleConfig(Config):
    """operator_console: the web page and keys of the person at the robot (sarl_ros.nodes.operator_console_node)."""

    web: bool = setting(True, 'Serve the web page')
    host: str = setting('127.0.0.1', 'Interface to serve on; any other than loopback requires a token')
    port: int = setting(8080, 'TCP port of the page (0: a free one, logged)', low=0, high=65535)
    token_env: str = setting('SARL_CONSOLE_TOKEN', 'Environment variable holding the access token (off loopback '
                             'without it: a random one is printed)')
    keyboard: bool = setting(True, 'Also read single keys on this terminal (when stdin is one)')
    image_topic: str = setting(names.TOPIC_CAMERA, 'Camera images to show')
    image_rate_hz: float = setting(5.0, 'Encode at most this many images a second for the page')
    jpeg_quality: int = setting(80, 'JPEG quality of the page image (1-100)')  # checked by the node
    service_timeout_s: float = setting(5.0, 'Wait this long for the node that owns a command')
    event_history: int = setting(50, 'Episode events listed on the page', low=0)
    output_dir: str = setting(DEFAULT_OUTPUT_DIR, "The run's directory: the episode history is loaded from its "
                              'episodes.csv (empty: only what this console sees)')
    max_body_bytes: int = setting(16384, 'Largest request body the page may send (bigger: 413, counted while read)',
                                  low=1)
