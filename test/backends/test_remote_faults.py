"""Remote backends against loopback servers that hang, drop connections or cut answers short.

Through the public interfaces (RemoteVLA, the VLM proposer): a transient fault is retried and
the answer is the real one; a lasting fault ends in one clear error within the time the
timeout and retries allow, never in a hang or a raw socket exception.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from backend_helpers import TinyTorchVLA, make_chat_server

from sarl_ros.backends.catalog import make_proposer
from sarl_ros.backends.vla_client import RemoteVLA, RemoteVLAError
from sarl_ros.backends.vla_server import make_server
from sarl_ros.backends.vlm_clients import VLMError
from sarl_ros.core.mdp import Observation

TIMEOUT_S, RETRIES, BACKOFF_S = 0.3, 2, 0.01
# Every attempt may take the whole timeout; the rest is backoff and loopback on a loaded machine.
WORST_CASE_S = (RETRIES + 1) * TIMEOUT_S + 5.0
SDK_BACKOFF_S = 0.5 + 1.0
# When a real answer must come after the fault, the timeout has to cover that answer on a loaded
# machine: a hang then costs one such timeout; a drop or a cut answer fails at once whatever it is.
ANSWER_TIMEOUT_S = {'hang': 2.0, 'drop': 10.0, 'cut': 10.0}
# What each client names: httpx's errors (RemoteVLA), the openai SDK's (the VLM client).
VLA_ERROR = {'hang': 'timed out|Timeout', 'drop': 'disconnected|RemoteProtocolError',
             'cut': 'incomplete|RemoteProtocolError'}
VLM_ERROR = {'hang': 'timed out', 'drop': 'Connection error', 'cut': 'Connection error'}


def remote_vla(url, timeout_s=TIMEOUT_S):
    return RemoteVLA(url=url, timeout_s=timeout_s, retries=RETRIES, backoff_s=BACKOFF_S, check_health=False)


@pytest.mark.parametrize('fault', ['hang', 'drop', 'cut'])
def test_vla_client_retries_a_transient_fault_and_gets_the_real_action(faulty_server, rgb_image, fault):
    url = faulty_server(make_server(TinyTorchVLA(seed=2), port=0), plan=[fault, fault])
    action = remote_vla(url, ANSWER_TIMEOUT_S[fault]).act(rgb_image, 'pick up the cup', np.zeros(7))
    np.testing.assert_allclose(action, TinyTorchVLA(seed=2).act(rgb_image, 'pick up the cup', np.zeros(7)),
                               atol=1e-6)


@pytest.mark.parametrize('fault', ['hang', 'drop', 'cut'])
def test_vla_client_gives_one_clear_error_when_the_fault_lasts(faulty_server, rgb_image, fault):
    server = make_server(TinyTorchVLA(), port=0)
    url = faulty_server(server, then=fault)
    started = time.monotonic()
    with pytest.raises(RemoteVLAError, match=f'/act failed after {RETRIES + 1} attempts') as info:
        remote_vla(url).act(rgb_image, 'pick up the cup')
    assert time.monotonic() - started < WORST_CASE_S
    assert server.proxy.requests == RETRIES + 1
    assert any(word in str(info.value) for word in VLA_ERROR[fault].split('|')), str(info.value)


@pytest.fixture
def observation(rgb_image):
    return Observation(features=np.zeros(4, np.float32), image=rgb_image)


def vlm_proposer(url, timeout_s=TIMEOUT_S):
    # The openai SDK paces its own retries (0.5 s, then 1 s at most).
    return make_proposer('openai', base_url=url + '/v1', model='test-vlm', api_key_env='', timeout_s=timeout_s,
                         retries=RETRIES)


@pytest.mark.parametrize('fault', ['hang', 'drop', 'cut'])
def test_vlm_proposer_retries_a_transient_fault(faulty_server, observation, fault):
    server, log = make_chat_server(['["pick up the sushi", "open the pot"]'])
    url = faulty_server(server, plan=[fault])
    candidates = vlm_proposer(url, ANSWER_TIMEOUT_S[fault]).propose(observation, 'put the sushi in the pot', [], 3)
    assert [c.prompt for c in candidates] == ['put the sushi in the pot', 'pick up the sushi', 'open the pot']
    assert server.proxy.requests == 2 and len(log) == 1


@pytest.mark.parametrize('fault', ['hang', 'drop', 'cut'])
def test_vlm_proposer_gives_one_clear_error_when_the_fault_lasts(faulty_server, observation, fault):
    server, log = make_chat_server(['["pick up the sushi"]'])
    url = faulty_server(server, then=fault)
    started = time.monotonic()
    with pytest.raises(VLMError, match=f"'test-vlm' at .* failed after {RETRIES + 1} attempts") as info:
        vlm_proposer(url).propose(observation, 'put the sushi in the pot', [], 3)
    assert time.monotonic() - started < WORST_CASE_S + SDK_BACKOFF_S
    assert server.proxy.requests == RETRIES + 1 and log == []
    assert any(word in str(info.value) for word in VLM_ERROR[fault].split('|')), str(info.value)
