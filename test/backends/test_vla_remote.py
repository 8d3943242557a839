"""The policy server and its client end to end over loopback, with a small torch model behind it."""
from __future__ import annotations

import json

import numpy as np
import pytest
from backend_helpers import TinyTorchVLA

from sarl_ros.backends import wire
from sarl_ros.backends.catalog import make_vla
from sarl_ros.backends.vla_client import RemoteVLA, RemoteVLAError
from sarl_ros.backends.vla_server import make_server, parse_args
from sarl_ros.core.executor import SKILL_DONE, execute_prompt


def test_wire_round_trips_arrays_of_several_dtypes():
    value = {'image': np.arange(24, dtype=np.uint8).reshape(2, 4, 3), 'a': np.array([1.5, -2.0]),
             'nested': [np.int32(3), 'text']}
    back = wire.loads(wire.dumps(value))
    np.testing.assert_array_equal(back['image'], value['image'])
    assert back['image'].dtype == np.uint8
    np.testing.assert_array_equal(back['a'], value['a'])
    assert back['nested'] == [3, 'text']


def test_wire_unwraps_double_encoded_payloads_and_rejects_bad_sizes():
    inner = wire.dumps({'instruction': 'x', 'image': np.zeros((2, 2, 3), np.uint8)})
    assert wire.loads(json.dumps({'encoded': inner}))['instruction'] == 'x'
    bad = wire.encode_array(np.zeros(4, np.float32))
    bad['shape'] = [5]
    with pytest.raises(ValueError, match='bytes'):
        wire.decode_array(bad)


def test_remote_action_equals_the_local_model_and_skill_done_travels(serve, rgb_image):
    local, served = TinyTorchVLA(seed=1), TinyTorchVLA(seed=1)
    url = serve(make_server(served, port=0))
    client = make_vla('remote', url=url, unnorm_key='bridge_orig', timeout_s=5.0)
    client.reset()
    local.reset()
    for _ in range(3):
        remote_action = client.act(rgb_image, 'put the sushi in the pot', np.zeros(7))
        local_action = local.act(rgb_image, 'put the sushi in the pot', np.zeros(7))
        # float32 on the wire
        np.testing.assert_allclose(remote_action, local_action, rtol=0, atol=1e-6)
    assert client.skill_done() and local.skill_done()
    client.reset()
    assert served.resets == 2 and not client.skill_done()
    assert client.health()['requests'] == 3


def test_executor_runs_a_prompt_through_the_remote_vla(serve, rgb_image):
    url = serve(make_server(TinyTorchVLA(steps_per_skill=4), port=0))

    class StillCamera:
        def read(self):
            return rgb_image

    class RecordingRobot:
        control_hz = 5.0

        def __init__(self):
            self.actions = []

        def apply(self, action):
            from sarl_ros.core.interfaces import ApplyResult
            self.actions.append(action)
            return ApplyResult()

        def proprio(self):
            return np.zeros(7)

        def home(self):
            pass

        def halt(self):
            pass

    robot = RecordingRobot()
    result = execute_prompt(robot, StillCamera(), RemoteVLA(url=url), 'open the drawer', max_steps=10)
    assert result.outcome == SKILL_DONE and result.control_steps == 4 and len(robot.actions) == 4


def test_bad_requests_are_answered_as_upstream_with_the_reason_in_headers(serve):
    import httpx
    url = serve(make_server(TinyTorchVLA(), port=0))
    response = httpx.post(url + '/act', content=wire.dumps({'image': np.zeros((4, 4, 3), np.uint8)}))
    assert response.status_code == 200 and response.json() == 'error'  # OpenVLA deploy.py's answer
    assert 'instruction' in response.headers['X-SARL-Error']
    assert response.headers['X-SARL-Error-Kind'] == 'request'
    backend = FailingVLA(failures=1)
    url = serve(make_server(backend, port=0))
    client = RemoteVLA(url=url, check_health=False, retries=3, backoff_s=0.01)
    with pytest.raises(RemoteVLAError, match='answered "error": bad request.*image'):
        client.act(np.zeros((4, 4), np.uint8), 'do it')  # 2-D image: refused, not retried
    assert backend.failures == 1  # the backend was never called


def test_unknown_endpoints_are_404_and_health_reports_requests(serve, rgb_image):
    import httpx
    url = serve(make_server(TinyTorchVLA(), port=0))
    assert httpx.get(url + '/nothing').status_code == 404
    client = RemoteVLA(url=url, check_health=False)
    client.act(rgb_image, 'wave')
    health = client.health()
    assert health['status'] == 'ok' and health['requests'] == 1 and health['mean_latency_ms'] > 0


class FailingVLA(TinyTorchVLA):
    def __init__(self, failures):
        super().__init__()
        self.failures = failures

    def act(self, image, instruction, proprio):
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError('CUDA out of memory (simulated)')
        return super().act(image, instruction, proprio)


def test_client_retries_server_errors_then_succeeds(serve, rgb_image):
    backend = FailingVLA(failures=2)
    url = serve(make_server(backend, port=0))
    client = RemoteVLA(url=url, retries=2, backoff_s=0.01, check_health=False)
    action = client.act(rgb_image, 'pick up the cup')
    assert action.shape == (7,) and backend.failures == 0


def test_client_gives_a_clear_error_after_retries(serve, rgb_image):
    url = serve(make_server(FailingVLA(failures=10), port=0))
    client = RemoteVLA(url=url, retries=1, backoff_s=0.01, check_health=False)
    with pytest.raises(RemoteVLAError, match='after 2 attempts.*out of memory'):
        client.act(rgb_image, 'pick up the cup')


def test_client_reports_an_unreachable_server_clearly():
    import socket
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    client = RemoteVLA(url=f'http://127.0.0.1:{port}', retries=1, backoff_s=0.01, timeout_s=1.0)
    with pytest.raises(RemoteVLAError, match=f'127.0.0.1:{port}/act failed after 2 attempts'):
        client.act(np.zeros((8, 8, 3), np.uint8), 'wave')


def test_client_times_out_on_a_silent_server(rgb_image):
    import socket
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(4)  # accepts connections but never answers
    try:
        client = RemoteVLA(url=f'http://127.0.0.1:{listener.getsockname()[1]}', timeout_s=0.3, retries=0,
                           check_health=False)
        with pytest.raises(RemoteVLAError, match='timed out|Timeout'):
            client.act(rgb_image, 'wave')
    finally:
        listener.close()


def test_server_command_line_defaults():
    args = parse_args(['--port', '9000'])
    assert args.port == 9000 and args.backend == 'openvla' and args.unnorm_key == 'bridge_orig'
    assert args.host == '127.0.0.1'


def test_sarl_vla_server_command_serves_a_factory_backend(rgb_image):
    import os
    import re
    import subprocess
    import sys
    here = os.path.dirname(__file__)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([here, os.environ.get('PYTHONPATH', '')])}
    process = subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.backends.vla_server', '--factory', 'backend_helpers:TinyTorchVLA',
         '--port', '0'], stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in process.stderr:  # the log line names the port the OS picked
            match = re.search(r'on (http://127\.0\.0\.1:\d+)', line)
            if match:
                url = match.group(1)
                break
        assert url, 'the server never said where it listens'
        client = RemoteVLA(url=url, timeout_s=10.0)
        assert client.health()['backend'] == 'backend_helpers:TinyTorchVLA'
        expected = TinyTorchVLA().act(rgb_image, 'stack the cups', None)
        np.testing.assert_allclose(client.act(rgb_image, 'stack the cups'), expected, atol=1e-6)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_client_check_command_prints_health_and_latency(serve, capsys):
    from sarl_ros.backends.vla_client import main
    url = serve(make_server(TinyTorchVLA(), port=0))
    assert main(['--url', url, '-n', '3', '--size', '48', '64', '--image-size', '32']) == 0
    out = capsys.readouterr().out
    assert '"status": "ok"' in out and 'latency over 3 calls' in out and 'action: [' in out
