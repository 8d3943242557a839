"""The names of the SARL graph's interfaces: topics, services, the action, and the nodes.

The contract every side of a connection reads, so a publisher and its subscribers, a server
and its clients cannot disagree: the nodes, their clients (sarl_ros.nodes.clients), the recorder,
the operator console, the launch file and sarl-graph. It imports nothing, so the nodes depend on
the contract and not on the graph's composition (sarl_ros.graph, which only puts the nodes together).
Parameter names are each node's own (its parameter table).
"""
from __future__ import annotations

# Node names: the ROS node name, and the key of the node's section in config/widowx_sarl.yaml.
NODE_EXECUTOR = 'vla_executor'
NODE_CAMERA = 'camera'
NODE_PROPOSER = 'vlm_proposer'
NODE_POLICY = 'q_policy'
NODE_REWARD = 'reward'
NODE_EPISODE_MANAGER = 'episode_manager'
NODE_RECORDER = 'recorder'
NODE_OPERATOR_CONSOLE = 'operator_console'

# Topics (absolute names).
TOPIC_CANDIDATES = '/sarl/candidates'
TOPIC_TRANSITIONS = '/sarl/transitions'
TOPIC_REWARDS = '/sarl/rewards'
TOPIC_EVENTS = '/sarl/episode_events'
TOPIC_LEARNER_STATS = '/sarl/learner_stats'
TOPIC_INSTRUCTION_POOL = '/sarl/instruction_pool'  # InstructionPool, latched: the Q-policy's pool
TOPIC_EXECUTED_ACTIONS = '/sarl/executed_actions'
TOPIC_CAMERA = '/camera/image_raw'
TOPIC_CAMERA_INFO = '/camera/camera_info'
TOPIC_SIM_CAMERA = '/sim/camera/image_raw'
# Latched std_msgs/Bool from the executor: whether the emergency stop is engaged (not recorded).
TOPIC_ESTOP_STATE = '/sarl/emergency_stop_engaged'
# The experiment record: `ros2 bag record` and the built-in recorder both take this list.
RECORDED_TOPICS = (TOPIC_CANDIDATES, TOPIC_TRANSITIONS, TOPIC_REWARDS, TOPIC_EVENTS,
                   TOPIC_LEARNER_STATS, TOPIC_EXECUTED_ACTIONS, TOPIC_CAMERA)

# Services and the action (absolute names).
SRV_PROPOSE = '/sarl/propose_prompts'
SRV_SELECT = '/sarl/select_prompt'
SRV_STORE_TRANSITION = '/sarl/store_transition'
SRV_GET_STATE = '/sarl/get_state'
SRV_RESET_SCENE = '/sarl/reset_scene'
SRV_EMERGENCY_STOP = '/sarl/emergency_stop'
SRV_EVALUATE = '/sarl/evaluate_episode'
SRV_REPORT_OUTCOME = '/sarl/report_outcome'
SRV_SIM_SUCCESS = '/sim/check_success'
SRV_START_EPISODE = '/sarl/start_episode'
SRV_STOP = '/sarl/stop'
SRV_CONFIRM_RESET = '/sarl/confirm_reset'
SRV_PAUSE = '/sarl/pause'
SRV_CORRECT_OUTCOME = '/sarl/correct_outcome'  # ReportOutcome: relabel the episode that just ended
SRV_RELABEL_EPISODE = '/sarl/relabel_episode'  # ReportOutcome: the learner's side of a correction
SRV_DEMONSTRATE = '/sarl/demonstrate_prompt'  # DemonstratePrompt: the operator's prompt for a decision
ACTION_EXECUTE = '/sarl/execute_prompt'

# What the episode manager calls, by the node that serves it: it waits for all of it to be ready
# before the first episode (sarl_ros.core.readiness), one line per node it has to wait for.
EPISODE_MANAGER_NEEDS = (
    (NODE_EXECUTOR, (SRV_RESET_SCENE, SRV_GET_STATE, ACTION_EXECUTE)),
    (NODE_PROPOSER, (SRV_PROPOSE,)),
    (NODE_POLICY, (SRV_SELECT, SRV_STORE_TRANSITION)),
    (NODE_REWARD, (SRV_EVALUATE,)),
)

# How a scene is reset between episodes (the episode manager's reset_mode and the launch argument):
# auto, by the simulator; operator, by a person who confirms it (SRV_CONFIRM_RESET).
RESET_MODES = ('auto', 'operator')
