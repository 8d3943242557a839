"""Conformance with openpi's websocket policy protocol, both ways, and the wire's bytes.

- The wire: our openpi_wire packs byte for byte what openpi-client's msgpack_numpy packs, and each
  side decodes the other's messages.
- Our client (vla:=openpi) against an upstream-style server (openpi_helpers.UpstreamStyleServer,
  written from openpi's websocket_policy_server.py): metadata, chunks, server-sent errors, a server
  dropping the connection mid-request, a server restarted (reconnect), the API key header.
- openpi-client's own WebsocketClientPolicy against `sarl-vla-server --protocol openpi` (a separate
  process, a tiny torch model): metadata, inference, a server-sent error, the server killed
  mid-request, a restarted server, the API key.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import msgpack
import numpy as np
import pytest
from openpi_helpers import ChunkPolicy, UpstreamStyleServer

from sarl_ros.backends import openpi_wire
from sarl_ros.backends.openpi_client import OpenPIError, OpenPIServerError, OpenPIVLA
from sarl_ros.backends.openpi_server import make_openpi_server

msgpack_numpy = pytest.importorskip('openpi_client.msgpack_numpy',
                                    reason='openpi-client (requirements/no_deps.txt): run ./sarl test')
websocket_client_policy = pytest.importorskip('openpi_client.websocket_client_policy')

# openpi-client 0.1.2 connects without websockets' legacy=True flag (its code, not ours).
pytestmark = pytest.mark.filterwarnings('ignore:connect\\(\\) must be used as a context manager:DeprecationWarning')
HERE = os.path.dirname(os.path.abspath(__file__))
FRAME = np.random.default_rng(3).integers(0, 256, size=(224, 224, 3), dtype=np.uint8)


def observation():
    return {'observation/image': FRAME, 'observation/wrist_image': np.zeros_like(FRAME),
            'observation/state': np.arange(8, dtype=np.float32), 'prompt': 'put the sushi in the pot',
            'step': np.int64(7), 'scale': np.float32(0.5), 'flags': [True, None, 'x', b'raw'],
            'nested': {'depth': np.ones((2, 3), dtype=np.float64), 'k': 3}}


def assert_same(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert type(b) is type(a) and a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


# --- the wire -------------------------------------------------------------------------------------

def test_our_bytes_are_openpi_clients_bytes_and_each_side_reads_the_other():
    obs = observation()
    ours = openpi_wire.packb(obs)
    theirs = msgpack_numpy.packb(obs)
    assert ours == theirs
    assert_same(openpi_wire.unpackb(theirs), msgpack_numpy.unpackb(ours))
    # Arrays of every dtype a policy sends or returns, non-contiguous ones included.
    for array in (np.arange(12, dtype=np.float32).reshape(3, 4).T, np.array([1, -2], dtype='>i4'),
                  np.zeros((0, 7), dtype=np.float16), np.array(True), np.arange(5, dtype=np.uint16)):
        assert openpi_wire.packb(array) == msgpack_numpy.packb(array)
        assert_same(openpi_wire.unpackb(msgpack_numpy.packb(array)), array)
        assert_same(msgpack_numpy.unpackb(openpi_wire.packb(array)), array)
    decoded = openpi_wire.unpackb(theirs)['observation/image']
    decoded[0, 0, 0] = 1  # ours is writable (upstream's is a read-only view of the message)


def test_bad_messages_are_refused():
    with pytest.raises(openpi_wire.WireError, match='object'):
        openpi_wire.packb({'x': np.array([object()], dtype=object)})
    with pytest.raises(openpi_wire.WireError):
        openpi_wire.packb(np.zeros(2, dtype=np.complex64))
    good = msgpack_numpy.packb({'a': np.arange(6, dtype=np.float32)})
    with pytest.raises(openpi_wire.WireError, match='bytes'):  # data shorter than dtype x shape
        openpi_wire.unpackb(msgpack.packb({'a': {b'__ndarray__': True, b'data': b'\0' * 5, b'dtype': '<f4',
                                                 b'shape': [2]}}))
    with pytest.raises(openpi_wire.WireError, match='refused'):
        openpi_wire.unpackb(msgpack.packb({b'__ndarray__': True, b'data': b'', b'dtype': '|O', b'shape': [0]}))
    with pytest.raises(openpi_wire.WireError):
        openpi_wire.unpackb(good[:-3])
    with pytest.raises(openpi_wire.WireError, match='binary'):
        openpi_wire.unpackb('text')


# --- our client against an upstream-style server ---------------------------------------------------

@pytest.fixture
def upstream():
    servers = []

    def start(policy=None, **kwargs):
        server = UpstreamStyleServer(policy or ChunkPolicy(), **kwargs).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


def client_for(server, **kwargs):
    options = dict(host='127.0.0.1', port=server.port, state_source='proprio', timeout_s=5.0, retries=2,
                   backoff_s=0.05)
    options.update(kwargs)
    return OpenPIVLA(**options)


def test_our_client_reads_metadata_and_executes_chunks_like_an_action_chunk_broker(upstream):
    policy = ChunkPolicy(horizon=10)
    server = upstream(policy, metadata={'policy': 'tiny', 'action_horizon': 10, 'reset_pose': np.zeros(3)})
    client = client_for(server, replan_steps=4, action_horizon=10)
    assert client.server_metadata['policy'] == 'tiny'
    assert np.array_equal(client.server_metadata['reset_pose'], np.zeros(3))
    frame = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    actions = [client.act(frame, 'move left', np.arange(7.0)) for _ in range(10)]
    # 4 actions per chunk: asked at steps 0, 4 and 8; each action is row (step mod 4) of its chunk.
    assert client.inferences == 3 and len(policy.observations) == 3
    assert [round(a[5], 4) for a in actions] == [0.0, 0.01, 0.02, 0.03] * 2 + [0.0, 0.01]
    assert all(np.allclose(a[:3], [0.01, 0.0, -0.005]) and a[6] == 1.0 for a in actions)
    obs = policy.observations[0]
    assert obs['prompt'] == 'move left'
    assert obs['observation/image'].shape == (224, 224, 3) and obs['observation/image'].dtype == np.uint8
    assert not obs['observation/wrist_image'].any()
    assert obs['observation/state'].dtype == np.float32 and np.allclose(obs['observation/state'], np.arange(7.0))
    assert set(client.last_server_timing) == {'infer_ms', 'prev_total_ms'}
    client.reset()  # a new prompt drops the rest of the chunk
    client.act(frame, 'grasp the cup', np.zeros(7))
    assert client.inferences == 4 and client.connections == 1


def test_a_server_sent_error_is_raised_with_its_traceback_then_the_client_reconnects(upstream):
    server = upstream()
    client = client_for(server)
    with pytest.raises(OpenPIServerError, match='ValueError: the tiny policy was asked to fail'):
        client.act(FRAME, 'fail', np.zeros(7))
    assert client.inferences == 0
    action = client.act(FRAME, 'move right', np.zeros(7))  # the server closed that connection (1011)
    assert action.shape == (7,) and client.connections == 2 and server.connections == 2


def test_a_server_dropping_the_connection_mid_request_is_retried_on_a_new_connection(upstream):
    server = upstream(drop_prompts={'move up'})
    client = client_for(server)
    action = client.act(FRAME, 'move up', np.zeros(7))
    assert action.shape == (7,)
    assert client.connections == 2 and client.inferences == 1


def test_a_restarted_server_is_reconnected_and_a_dead_one_gives_one_clear_error(upstream):
    server = upstream()
    client = client_for(server)
    client.act(FRAME, 'move up', np.zeros(7))
    port = server.port
    server.stop()
    client.reset()
    with pytest.raises(OpenPIError, match=r'failed after 3 attempts'):
        client.act(FRAME, 'move up', np.zeros(7))
    restarted = upstream(port=port)
    client.reset()
    assert client.act(FRAME, 'move up', np.zeros(7)).shape == (7,)
    assert restarted.connections == 1 and client.connections == 2


def test_a_server_that_does_not_answer_in_time_fails_the_request_and_its_late_answer_is_not_taken(upstream):
    policy = ChunkPolicy()
    server = upstream(policy)
    client = client_for(server, timeout_s=0.3, retries=0)
    with pytest.raises(OpenPIError, match=r'no answer within 0.3 s'):
        client.act(FRAME, 'slow', np.zeros(7))  # the policy takes 1 s
    client.reset()
    client.timeout_s = 5.0
    action = client.act(FRAME, 'grasp it', np.zeros(7))  # a new connection: the late 'slow' chunk is not read
    assert action[6] == 0.0 and client.connections == 2


def test_the_api_key_is_sent_as_openpi_does_and_never_shown(upstream, monkeypatch):
    server = upstream()
    monkeypatch.setenv('SARL_TEST_OPENPI_KEY', 's3cret')
    client = client_for(server, api_key_env='SARL_TEST_OPENPI_KEY')
    client.act(FRAME, 'move up', np.zeros(7))
    assert server.headers[-1] == 'Api-Key s3cret'
    assert 's3cret' not in repr(vars(client))
    monkeypatch.delenv('SARL_TEST_OPENPI_KEY')
    with pytest.raises(OpenPIError, match='SARL_TEST_OPENPI_KEY, which is not set'):
        client_for(server, api_key_env='SARL_TEST_OPENPI_KEY', connect=False).act(FRAME, 'x', np.zeros(7))


def test_answers_that_are_not_action_chunks_are_refused(upstream):
    class Wrong:
        def __init__(self, answer):
            self.answer = answer

        def infer(self, obs):
            return self.answer

    for answer, message in (({'nothing': 1}, 'without an "actions" array'),
                            ({'actions': np.zeros((4, 6))}, r'\(H, >= 7\)'),
                            ({'actions': np.full((4, 7), np.nan)}, 'non-finite')):
        client = client_for(upstream(Wrong(answer)))
        with pytest.raises(OpenPIError, match=message):
            client.act(FRAME, 'move up', np.zeros(7))
    # Padded model outputs (pi0 pads to 32) are cut to 7; a single action (1-D) is a chunk of one.
    client = client_for(upstream(Wrong({'actions': np.ones((5, 32), dtype=np.float32)})))
    assert np.allclose(client.act(FRAME, 'x', np.zeros(7))[:6], 1.0)
    client = client_for(upstream(Wrong({'actions': np.ones(7)})), replan_steps=1, action_horizon=1)
    client.act(FRAME, 'x', np.zeros(7))
    client.act(FRAME, 'x', np.zeros(7))
    assert client.inferences == 2


# --- openpi-client's WebsocketClientPolicy against sarl-vla-server --protocol openpi --------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_sarl_server(port: int, factory: str = 'openpi_helpers:tiny_torch_policy', extra=(), env=None):
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get('PYTHONPATH', '')]), **(env or {}))
    process = subprocess.Popen([sys.executable, '-m', 'sarl_ros.backends.vla_server', '--protocol', 'openpi',
                                '--factory', factory, '--port', str(port), '--action-horizon', '4', *extra],
                               stderr=subprocess.PIPE, text=True, env=environ)
    for line in process.stderr:
        if re.search(r'on ws://127\.0\.0\.1:\d+', line):
            return process
    raise RuntimeError(f'sarl-vla-server exited: {process.wait()}')


@pytest.fixture
def sarl_server():
    processes = []

    def start(*args, **kwargs):
        process = start_sarl_server(*args, **kwargs)
        processes.append(process)
        return process
    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_openpi_clients_policy_gets_metadata_and_the_tiny_models_chunks(sarl_server):
    from backend_helpers import TinyTorchVLA
    port = free_port()
    sarl_server(port)
    policy = websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port)
    metadata = policy.get_server_metadata()
    assert metadata['server'] == 'sarl-vla-server' and metadata['action_horizon'] == 4
    obs = {'observation/image': FRAME, 'observation/state': np.zeros(8, dtype=np.float32), 'prompt': 'pick up'}
    result = policy.infer(obs)
    assert result['actions'].shape == (4, 7) and result['actions'].dtype == np.float32
    local = TinyTorchVLA(seed=0)
    expected = np.stack([local.act(FRAME, 'pick up', np.zeros(8)) for _ in range(4)]).astype(np.float32)
    assert np.allclose(result['actions'], expected, atol=1e-6)
    assert result['server_timing']['infer_ms'] > 0
    assert 'prev_total_ms' in policy.infer(obs)['server_timing']
    import httpx
    assert httpx.get(f'http://127.0.0.1:{port}/healthz').text == 'OK\n'


def test_openpi_clients_policy_sees_our_errors_and_a_dead_server_then_reconnects(sarl_server):
    port = free_port()
    server = sarl_server(port, factory='openpi_helpers:chunk_policy')
    policy = websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port)
    with pytest.raises(RuntimeError, match='Error in inference server:[\\s\\S]*asked to fail'):
        policy.infer({'observation/image': FRAME, 'prompt': 'fail'})
    with pytest.raises(Exception) as closed:  # the server closed that connection with 1011, as upstream
        policy.infer({'observation/image': FRAME, 'prompt': 'move'})
    assert getattr(getattr(closed.value, 'rcvd', None), 'code', None) == 1011
    policy = websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port)  # reconnect: a new client
    assert policy.infer({'observation/image': FRAME, 'prompt': 'move'})['actions'].shape == (10, 7)
    # Killed mid-request ('slow' takes 1 s): openpi's client sees the connection closed.
    import threading
    killer = threading.Timer(0.3, server.kill)
    killer.start()
    import websockets
    with pytest.raises(websockets.ConnectionClosed):
        policy.infer({'observation/image': FRAME, 'prompt': 'slow'})
    killer.join()
    server.wait(timeout=10)
    sarl_server(port, factory='openpi_helpers:chunk_policy')  # restarted on the same port
    policy = websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port)
    assert policy.infer({'observation/image': FRAME, 'prompt': 'move'})['actions'].shape == (10, 7)


def test_openpi_clients_api_key_is_required_when_the_server_asks_for_one(sarl_server):
    port = free_port()
    sarl_server(port, factory='openpi_helpers:chunk_policy', extra=('--api-key-env', 'SARL_TEST_SERVER_KEY'),
                env={'SARL_TEST_SERVER_KEY': 'k3y'})
    policy = websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port, api_key='k3y')
    assert policy.infer({'observation/image': FRAME, 'prompt': 'move'})['actions'].shape == (10, 7)
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus, match='401'):
        websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port, api_key='wrong')
    with pytest.raises(InvalidStatus, match='401'):
        websocket_client_policy.WebsocketClientPolicy('127.0.0.1', port)


def test_our_client_against_our_server_in_process():
    policy = ChunkPolicy(horizon=6)
    server = make_openpi_server(policy, port=0, metadata={'name': 'in-process'}).start()
    try:
        client = OpenPIVLA(port=server.server_address[1], state_source='proprio', replan_steps=3, action_horizon=6)
        assert client.server_metadata == {'name': 'in-process'}
        for _ in range(7):
            client.act(FRAME, 'move', np.zeros(7))
        assert client.inferences == 3 and server.requests == 3
        with pytest.raises(OpenPIServerError, match='asked to fail'):
            client.reset()
            client.act(FRAME, 'fail', np.zeros(7))
        client.reset()
        assert client.act(FRAME, 'move', np.zeros(7)).shape == (7,)
        assert server.errors == 1 and client.connections == 2
    finally:
        server.shutdown()
    time.sleep(0.05)
