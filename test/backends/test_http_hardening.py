"""Both HTTP servers (operator console, policy server) against hostile requests.

Bodies: a 50 MB and a 300 MB chunked body (no Content-Length) are refused with 413 while they are
read, by every route tried, and the serving process grows by less than 50 MB (its peak resident
size, VmHWM, measured). The policy server: a token off loopback, 401 without it; malformed
observations answered as bad requests without reaching the model and without a traceback.
"""
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from sarl_ros.backends import wire
from sarl_ros.backends.vla_client import RemoteVLA, RemoteVLAError
from sarl_ros.backends.vla_server import make_server
from sarl_ros.core.log_text import printable

HERE = Path(__file__).resolve().parent
MB = 1 << 20


def peak_rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    raise AssertionError('no VmHWM in /proc')


def chunked(total_bytes: int, chunk: int = MB):
    block = b'{' + b' ' * (chunk - 1)  # starts like JSON: nothing is refused for its first byte
    for _ in range(total_bytes // chunk):
        yield block


@pytest.mark.skipif(not Path('/proc/self/status').exists(), reason='reads peak memory from /proc')
def test_large_chunked_bodies_are_refused_while_read_with_little_memory():
    proc = subprocess.Popen([sys.executable, str(HERE / 'body_limit_servers.py')], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        console, policy = proc.stdout.readline().split()
        before = peak_rss_mb(proc.pid)
        routes = [console + 'api/estop', console + 'api/pause', console + 'api/estop/release',
                  console + 'api/outcome/correct', console + 'api/demonstrate', console + 'api/session',
                  policy + '/act', policy + '/reset']
        with httpx.Client(timeout=60, headers={'content-type': 'application/json'}) as http:
            for size in (50 * MB, 300 * MB):
                for url in routes:
                    reply = http.post(url, content=chunked(size))
                    assert reply.status_code == 413, (url, size, reply.status_code, reply.text[:200])
                    assert 'larger than' in reply.text
            # A declared Content-Length over the limit is refused before the body is read.
            reply = http.post(console + 'api/estop', content=b'{' + b' ' * (MB - 1))
            assert reply.status_code == 413 and reply.headers['x-frame-options'] == 'DENY'
            reply = http.post(policy + '/act', content=b'{' + b' ' * (20 * MB))
            assert reply.status_code == 413 and reply.headers['x-sarl-error-kind'] == 'request'
            # Small requests still work after all that.
            assert http.post(console + 'api/pause', json={'paused': True}).status_code == 200
        growth = peak_rss_mb(proc.pid) - before
        print(f'peak resident size grew by {growth:.1f} MB over {2 * len(routes)} refused bodies of 50 and 300 MB')
        assert growth < 50, f'the servers grew by {growth:.0f} MB'
        proc.stdin.write('\n')
        proc.stdin.flush()
        calls = proc.stdout.readline().split()
        assert calls == ['pause'], calls  # no refused body reached the code behind its route
    finally:
        proc.kill()
        proc.wait()


class CountingVLA:
    def __init__(self):
        self.calls = 0

    def act(self, image, instruction, proprio):
        self.calls += 1
        return np.zeros(7)

    def skill_done(self):
        return False

    def reset(self):
        pass


def test_the_policy_server_needs_a_token_off_loopback_and_checks_it(serve):
    with pytest.raises(ValueError, match='needs a token'):
        make_server(CountingVLA(), host='0.0.0.0', port=0)
    backend = CountingVLA()
    url = serve(make_server(backend, port=0, token='vla-token-1234'))
    assert httpx.get(url + '/health').status_code == 401
    body = wire.dumps({'image': np.zeros((8, 8, 3), np.uint8), 'instruction': 'wave'})
    reply = httpx.post(url + '/act', content=body, headers={'authorization': 'Bearer wrong'})
    assert reply.status_code == 401 and reply.headers['www-authenticate'] == 'Bearer'
    with pytest.raises(RemoteVLAError, match='HTTP 401'):
        RemoteVLA(url=url, check_health=False, retries=0).act(np.zeros((8, 8, 3), np.uint8), 'wave')
    assert backend.calls == 0
    action = RemoteVLA(url=url, check_health=False, token='vla-token-1234').act(np.zeros((8, 8, 3), np.uint8), 'wave')
    assert action.shape == (7,) and backend.calls == 1


def test_the_sarl_vla_server_command_refuses_another_interface_without_a_token(monkeypatch):
    from sarl_ros.backends.vla_server import main
    monkeypatch.delenv('SARL_VLA_TOKEN', raising=False)
    assert main(['--factory', 'backend_helpers:TinyTorchVLA', '--host', '0.0.0.0', '--port', '0']) == 2


@pytest.mark.parametrize('payload, reason', [
    ({'image': np.zeros((8, 8, 4), np.uint8), 'instruction': 'wave'}, 'HxWx3'),
    ({'image': np.zeros((0, 8, 3), np.uint8), 'instruction': 'wave'}, 'pixels a side'),
    ({'image': np.zeros((8, 8, 3), np.float32), 'instruction': 'wave'}, 'uint8'),
    ({'image': np.zeros((8, 8, 3), np.uint8), 'instruction': 'wave', 'proprio': 'abc'}, 'proprio'),
    ('{"image": {"__numpy__": "!!not base64", "dtype": "<u1", "shape": [8, 8, 3]}, "instruction": "x"}',
     'malformed array'),
])
def test_bad_observations_are_bad_requests_never_reaching_the_model(serve, caplog, payload, reason):
    backend = CountingVLA()
    url = serve(make_server(backend, port=0))
    body = payload if isinstance(payload, str) else wire.dumps(payload)
    with caplog.at_level(logging.INFO, logger='sarl-vla-server'):
        reply = httpx.post(url + '/act', content=body)
    assert reply.status_code == 200 and reply.json() == 'error'  # OpenVLA deploy.py's answer
    assert reply.headers['x-sarl-error-kind'] == 'request' and reason in reply.headers['x-sarl-error']
    assert backend.calls == 0
    assert not [r for r in caplog.records if r.exc_info], 'a traceback was logged for a bad request'


def test_control_characters_are_escaped_before_they_reach_a_log():
    forged = 'stop\n[ERROR] [executor]: forged line\r\x1b[2J\u2028done'
    text = printable(forged)
    assert '\n' not in text and '\r' not in text and '\x1b' not in text and '\u2028' not in text
    assert text == 'stop\\n[ERROR] [executor]: forged line\\r\\x1b[2J\\u2028done'
    assert printable('x' * 500, limit=10) == 'x' * 10 + '...'
