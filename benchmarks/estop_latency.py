"""Emergency stop on the executor: how fast a running prompt halts, and what moves after the stop.

The executor node (simulated arm, paced in real time at 5 Hz) runs a long prompt; at a random
moment an `/sarl/emergency_stop` call engages the stop. Per trial: the control steps commanded
after the service answered (their ExecutedAction stamps), and the time from the call to the
goal's result. The stop is released before the next trial.

    ./sarl run python benchmarks/estop_latency.py [-n 10]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time


def wait(future, timeout_s=10.0):
    end = time.monotonic() + timeout_s
    while not future.done():
        if time.monotonic() > end:
            raise TimeoutError('no answer')
        time.sleep(0.001)
    return future.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-n', type=int, default=10, help='trials')
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter

    from sarl_ros.action import ExecutePrompt
    from sarl_ros.msg import ExecutedAction
    from sarl_ros.nodes.executor_node import ExecutorNode
    from sarl_ros.sim.robot import CONTROL_HZ
    from sarl_ros.srv import EmergencyStop, ResetScene

    rclpy.init()
    executor_node = ExecutorNode(parameter_overrides=[Parameter('realtime', value=True),
                                                      Parameter('sim_camera_rate_hz', value=0.0)])
    operator = rclpy.create_node('estop_benchmark')
    commanded = []
    operator.create_subscription(ExecutedAction, '/sarl/executed_actions', commanded.append, 100)
    goals = ActionClient(operator, ExecutePrompt, '/sarl/execute_prompt')
    estop = operator.create_client(EmergencyStop, '/sarl/emergency_stop')
    reset = operator.create_client(ResetScene, '/sarl/reset_scene')
    spinner = MultiThreadedExecutor(num_threads=4)
    spinner.add_node(executor_node)
    spinner.add_node(operator)
    threading.Thread(target=spinner.spin, daemon=True).start()
    goals.wait_for_server()
    estop.wait_for_service()
    after_stop, to_halt, finished_first = [], [], 0
    try:
        for trial in range(args.n):
            wait(reset.call_async(ResetScene.Request(episode=trial)))  # the same scene for every trial
            commanded.clear()
            handle = wait(goals.send_goal_async(ExecutePrompt.Goal(prompt='pick up the sushi', max_control_steps=40)))
            result = handle.get_result_async()
            time.sleep(0.4 + random.random() * 0.4)  # somewhere inside a control step
            called = time.time()
            wait(estop.call_async(EmergencyStop.Request(engage=True, reason='benchmark')))
            answered = time.time()
            outcome = wait(result).result.outcome
            halted = time.time()
            time.sleep(2.0 / CONTROL_HZ)  # anything still commanded would show up by now
            wait(estop.call_async(EmergencyStop.Request(engage=False)))
            if outcome != ExecutePrompt.Result.ESTOPPED:
                finished_first += 1  # the prompt ended before the stop: nothing to measure
                continue
            to_halt.append(halted - called)
            stamps = [a.header.stamp.sec + a.header.stamp.nanosec * 1e-9 for a in commanded]
            after_stop.append(sum(1 for t in stamps if t > answered))
    finally:
        spinner.shutdown()
        rclpy.try_shutdown()
    print(f'control period: {1000 / CONTROL_HZ:.0f} ms; trials: {args.n}, '
          f'of which {finished_first} ended before the stop came')
    print(f'control steps commanded after the stop was acknowledged: {after_stop} (max {max(after_stop)})')
    print(f'stop call -> goal result: median {1000 * statistics.median(to_halt):.0f} ms, '
          f'max {1000 * max(to_halt):.0f} ms')


if __name__ == '__main__':
    main()
