"""Overhead of one decision step through the node graph, excluding model inference.

One decision step as the episode manager makes it: GetState service (state features from the
executed prompts, the camera's scene view) -> ProposePrompts service -> SelectPrompt service
(Q-policy) -> ExecutePrompt action goal and result, against the proposer, Q-policy and executor
running as separate processes on the simulator. The same backends are also called directly in
this process (featurizer, proposer.propose, policy.select, execute_prompt), and the graph's
overhead is the difference of the two medians, measured side by side in one run. A paper task
runs on observable state with the perceiving simulated VLM, a legacy task on privileged state.

    ./sarl run python benchmarks/decision_step_latency.py [--steps 200] [--control-steps 1] [--task NAME]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml


def graph_params(task: str, control_steps: int) -> dict:
    return {
        'vlm_proposer': {'ros__parameters': {'backend': 'sim', 'seed': 0}},
        'q_policy': {'ros__parameters': {'method': 'sarl', 'encoder': 'hashing',
                                         'output_dir': tempfile.mkdtemp(prefix='sarl_bench_')}},
        'vla_executor': {'ros__parameters': {'robot': 'sim', 'vla': 'sim', 'sim_task': task,
                                             'max_control_steps': control_steps, 'sim_camera_rate_hz': 0.0}},
    }


def start_nodes(params: dict) -> list[subprocess.Popen]:
    path = Path(tempfile.mkdtemp(prefix='sarl_bench_')) / 'params.yaml'
    path.write_text(yaml.safe_dump(params))
    modules = {'vlm_proposer': 'sarl_ros.nodes.proposer_node', 'q_policy': 'sarl_ros.nodes.policy_node',
               'vla_executor': 'sarl_ros.nodes.executor_node'}
    return [subprocess.Popen([sys.executable, '-m', module, '--ros-args', '--params-file', str(path),
                              '--log-level', 'warn'], env=dict(os.environ, OMP_NUM_THREADS='1'))
            for module in modules.values()]


def direct_steps(task: str, steps: int, control_steps: int) -> np.ndarray:
    """Time the same backends called in-process: the work a decision step cannot avoid."""
    import torch
    torch.set_num_threads(1)
    from sarl_ros.core.executor import execute_prompt
    from sarl_ros.core.mdp import Observation
    from sarl_ros.core.methods import make_policy
    from sarl_ros.core.proposals import normalize_candidates
    from sarl_ros.sim import registry
    from sarl_ros.sim.ros_stack import make_sim_stack
    stack = make_sim_stack(task=task, seed=0, width=64, height=64)
    proposer = registry.SimulatedVLM(seed=0)
    policy = make_policy('sarl', seed=0, encoder='hashing')
    text = registry.task_spec(task).text
    times, history = [], []
    for step in range(steps):
        start = time.perf_counter()
        frame = stack.state_camera.read() if stack.state_camera is not None else None
        features = np.asarray(stack.featurizer.features(frame, stack.robot.joint_state(), history), np.float32)
        observation = Observation(features=features, info={'task': task, 'scene_view': stack.annotator.scene_view()})
        candidates = normalize_candidates(proposer.propose(observation, text, history, 8))
        decision = policy.select(observation, candidates, text)
        execute_prompt(stack.robot, None, stack.vla, decision.prompt, control_steps)
        history.append(decision.prompt)
        times.append(time.perf_counter() - start)
        if step % 10 == 9:
            stack.scene.reset_scene(seed=step)
            history = []
    return np.array(times[5:]) * 1e3


def graph_steps(task: str, steps: int, control_steps: int) -> np.ndarray:
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor

    from sarl_ros.action import ExecutePrompt
    from sarl_ros import names
    from sarl_ros.srv import GetState, ProposePrompts, ResetScene, SelectPrompt

    rclpy.init()
    node = rclpy.create_node('decision_step_probe')
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def wait(future, timeout=30.0):
        end = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > end:
                raise TimeoutError('no answer within 30 s')
            executor.spin_once(timeout_sec=0.001)
        return future.result()

    propose = node.create_client(ProposePrompts, names.SRV_PROPOSE)
    select = node.create_client(SelectPrompt, names.SRV_SELECT)
    state = node.create_client(GetState, names.SRV_GET_STATE)
    reset = node.create_client(ResetScene, names.SRV_RESET_SCENE)
    act = ActionClient(node, ExecutePrompt, names.ACTION_EXECUTE)
    for client in (propose, select, state, reset):
        if not client.wait_for_service(timeout_sec=180):
            raise RuntimeError(f'{client.srv_name} did not come up within 180 s')
    act.wait_for_server(timeout_sec=180)
    from sarl_ros.sim.registry import task_spec
    text = task_spec(task).text
    times, history = [], []
    try:
        for step in range(steps):
            start = time.perf_counter()
            observed = wait(state.call_async(GetState.Request(history=history)))
            features = observed.state_features
            proposal = wait(propose.call_async(ProposePrompts.Request(
                task=text, task_name=task, state_features=features, scene_view=observed.scene_view,
                history=history, max_candidates=8)))
            choice = wait(select.call_async(SelectPrompt.Request(
                episode=1, decision_step=step % 8, task=text, state_features=features,
                candidates=proposal.candidates, vlm_scores=proposal.vlm_scores)))
            prompt = choice.decision.candidates[choice.decision.chosen_index].prompt
            handle = wait(act.send_goal_async(ExecutePrompt.Goal(prompt=prompt, max_control_steps=control_steps,
                                                                 history=history)))
            wait(handle.get_result_async())
            history = [*history, prompt]
            times.append(time.perf_counter() - start)
            if step % 10 == 9:
                wait(reset.call_async(ResetScene.Request(episode=step, seed=step, task=task)))
                history = []
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return np.array(times[5:]) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--control-steps', type=int, default=1, help='control steps per executed prompt')
    parser.add_argument('--task', default=None)
    args = parser.parse_args(argv)
    from sarl_ros.sim.registry import SUITE_TASKS
    task = args.task or SUITE_TASKS[0]
    procs = start_nodes(graph_params(task, args.control_steps))
    try:
        graph = graph_steps(task, args.steps, args.control_steps)
    finally:
        for p in procs:
            p.send_signal(2)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    direct = direct_steps(task, args.steps, args.control_steps)
    print(f'decision step ({args.control_steps} control step(s), task {task}), {len(graph)} steps each:')
    print(f'  through the graph (3 processes): median {np.median(graph):.2f} ms, p90 {np.percentile(graph, 90):.2f} ms')
    print(f'  same backends in-process:        median {np.median(direct):.2f} ms, '
          f'p90 {np.percentile(direct, 90):.2f} ms')
    print(f'  graph overhead (difference of medians): {np.median(graph) - np.median(direct):.2f} ms '
          f'(ratio {np.median(graph) / np.median(direct):.1f}x)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
