"""Operator console node: live view over HTTP, commands to the graph, and its security rules."""
import json

import httpx
import pytest
from params import overrides
from rclpy.node import Node
from std_msgs.msg import Bool

from sarl_ros.msg import EpisodeEvent, RewardSignal
from sarl_ros.nodes.operator_console_node import OperatorConsole
from sarl_ros.nodes.reward_node import RewardNode
from sarl_ros.rosutil.qos import LATCHED, RECORD
from sarl_ros.srv import DemonstratePrompt, EvaluateEpisode

API_KEY = 'sk-test-never-on-the-page-1234'
TOKEN = 'console-token-5678'


def console(ros, **params):
    values = dict(port=0, keyboard=False, service_timeout_s=1.0, output_dir='')
    values.update(params)
    return ros.add(OperatorConsole(**overrides(**values)))


def publish_start(ros, episode=1, task='sushi_to_pot'):
    probe = ros.add(Node('console_probe'))
    events = probe.create_publisher(EpisodeEvent, '/sarl/episode_events', RECORD)
    events.publish(EpisodeEvent(type=EpisodeEvent.START, episode=episode, task=task))
    return probe


def test_live_view_and_an_outcome_reaching_the_reward_node(ros):
    node = console(ros)
    reward = ros.add(RewardNode(**overrides(detector='none', human=False)))
    publish_start(ros, episode=4)
    with httpx.Client(base_url=node.url, timeout=10) as http:
        page = http.get('/')
        assert page.status_code == 200 and 'SARL operator console' in page.text
        with http.stream('GET', '/api/stream') as stream:
            assert stream.headers['content-type'].startswith('text/event-stream')
            for line in stream.iter_lines():
                if line.startswith('data: ') and json.loads(line[6:])['running']:
                    view = json.loads(line[6:])
                    break
        assert view['episode'] == 4 and view['task'] == 'sushi_to_pot' and view['phase'] == 'running'
        ros.wait_for(lambda: http.get('/api/state').json()['running'], what='the running episode')
        reply = http.post('/api/outcome', json={'outcome': 'failure'})
        assert reply.status_code == 200, reply.text
        assert reply.json()['message'] == 'episode 4: failure reported'
    evaluate = reward.create_client(EvaluateEpisode, '/sarl/evaluate_episode')
    verdict = ros.call(evaluate, EvaluateEpisode.Request(episode=4, final=False))
    assert verdict.decided and verdict.reward.value == 0.0 and verdict.reward.source == RewardSignal.SOURCE_HUMAN


@pytest.mark.parametrize('method, path, kwargs, status, reason', [
    ('post', '/api/outcome', {'json': {'outcome': 'maybe'}}, 422, 'success'),
    ('post', '/api/outcome', {'json': {'outcome': 'success', 'extra': 1}}, 422, 'extra'),
    ('post', '/api/outcome', {'content': b'{not json', 'headers': {'content-type': 'application/json'}}, 422,
     'JSON'),
    ('post', '/api/outcome', {'data': {'outcome': 'success'}}, 415, 'application/json'),
    ('post', '/api/pause', {'json': {'paused': 'sometimes'}}, 422, 'bool'),
    ('post', '/api/pause', {'json': {'paused': 'yes'}}, 422, 'bool'),  # strict: no "yes" -> True
    ('post', '/api/pause', {'json': {'paused': 1}}, 422, 'bool'),
    ('post', '/api/estop/release', {'json': {}}, 422, 'confirm'),  # confirmed in the request itself
    ('post', '/api/estop/release', {'json': {'confirm': 'yes'}}, 422, 'release'),
    ('post', '/api/estop', {'json': {'reason': 'x' * 201}}, 422, 'reason'),
    ('post', '/api/outcome/correct', {'json': {'episode': '3', 'outcome': 'success'}}, 422, 'episode'),
    ('post', '/api/outcome/correct', {'json': {'episode': 3, 'outcome': 'success'}}, 409, 'cannot be corrected'),
    ('post', '/api/estop', {'content': b'{"reason": "' + b'x' * 20000 + b'"}',
                            'headers': {'content-type': 'application/json'}}, 413, 'larger than'),
    ('post', '/api/outcome', {'json': {'outcome': 'success'}}, 409, 'no episode is running'),
    ('post', '/api/estop', {'json': {}}, 503, '/sarl/emergency_stop is not available'),
    ('get', '/api/nothing', {}, 404, 'Not Found'),
    ('get', '/api/estop', {}, 405, 'Method Not Allowed'),
    ('get', '/api/state', {'headers': {'host': 'attacker.example'}}, 400, 'Invalid host header'),
    ('post', '/api/estop', {'json': {}, 'headers': {'origin': 'http://attacker.example'}}, 403, 'cross-origin'),
])
def test_bad_requests_get_a_clear_4xx_or_503_and_the_node_keeps_serving(ros, method, path, kwargs, status, reason):
    node = console(ros)
    with httpx.Client(base_url=node.url, timeout=10) as http:
        reply = getattr(http, method)(path, **kwargs)
        assert reply.status_code == status, reply.text
        assert reason in reply.text
        # No other page may frame the console, whatever the answer (clickjacking).
        assert reply.headers['x-frame-options'] == 'DENY'
        assert "frame-ancestors 'none'" in reply.headers['content-security-policy']
        assert http.get('/api/state').status_code == 200


def test_serves_on_loopback_only_by_default(ros):
    from sarl_ros.node_configs import OperatorConsoleConfig
    assert OperatorConsoleConfig().host == '127.0.0.1'
    node = ros.add(OperatorConsole(**overrides(keyboard=False, port=0)))
    assert node.server.socket.getsockname()[0] == '127.0.0.1'
    assert httpx.get(node.url + 'api/auth').json() == {'token_required': False, 'authorised': True}


def test_a_token_is_required_when_set_and_nothing_secret_reaches_the_page(ros, monkeypatch):
    monkeypatch.setenv('OPENAI_API_KEY', API_KEY)
    monkeypatch.setenv('SARL_CONSOLE_TOKEN', TOKEN)
    node = console(ros)
    publish_start(ros)
    seen = []
    with httpx.Client(base_url=node.url, timeout=10) as http:
        for path in ('/', '/static/console.js', '/static/console.css', '/api/auth'):
            reply = http.get(path)
            assert reply.status_code == 200
            seen.append(reply.text)
        assert http.get('/api/auth').json() == {'token_required': True, 'authorised': False}
        for path in ('/api/state', '/api/stream', '/api/image.jpg'):
            assert http.get(path).status_code == 401
        assert http.post('/api/estop', json={}).status_code == 401
        assert http.post('/api/session', json={'token': 'guess'}).status_code == 401
        assert http.get('/api/state', headers={'authorization': f'Bearer {TOKEN}'}).status_code == 200
        login = http.post('/api/session', json={'token': TOKEN})
        assert login.status_code == 200
        cookie = login.headers['set-cookie'].lower()
        assert 'httponly' in cookie and 'samesite=strict' in cookie and TOKEN.lower() not in cookie
        ros.wait_for(lambda: http.get('/api/state').json()['running'], what='the session and the running episode')
        seen.append(http.get('/api/state').text)
        with http.stream('GET', '/api/stream') as stream:
            seen.append(next(line for line in stream.iter_lines() if line.startswith('data: ')))
    for text in seen:
        assert API_KEY not in text and TOKEN not in text


def test_another_interface_needs_a_token_even_without_one_configured(ros, monkeypatch, capfd):
    monkeypatch.delenv('SARL_CONSOLE_TOKEN', raising=False)
    node = console(ros, host='0.0.0.0')
    printed = capfd.readouterr().err
    assert 'operator console token' in printed
    token = printed.split('operator console token')[1].split(': ', 1)[1].split()[0]
    url = node.url.replace('0.0.0.0', '127.0.0.1')
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get('/api/state').status_code == 401
        assert http.get('/api/state', headers={'authorization': f'Bearer {token}'}).status_code == 200


def test_history_from_the_run_records_and_the_estop_state_from_the_executor(ros, tmp_path):
    (tmp_path / 'episodes.csv').write_text(
        'episode,task,success,decisions,prompts,seconds,outcome,decided_by\n'
        '1,sushi_to_pot,1,2,grasp the sushi | put it in the pot,31.50,success,detector\n'
        '2,sushi_to_pot,0,1,grasp the sushi,9.00,aborted,\n'
        '3,sushi_to_pot,0,3,a | b | c,40.00,failure,person\n')
    frames = tmp_path / 'console_frames'  # the thumbnails an earlier console kept
    frames.mkdir()
    (frames / 'e00001_00.jpg').write_bytes(b'\xff\xd8 a jpeg')
    (tmp_path / 'secret.jpg').write_bytes(b'not yours')
    node = console(ros, output_dir=str(tmp_path))
    with httpx.Client(base_url=node.url, timeout=10) as http:
        view = http.get('/api/state').json()
        assert view['history'][2]['frames'] == ['e00001_00.jpg']
        frame = http.get('/api/frames/e00001_00.jpg')
        assert frame.status_code == 200 and frame.content == b'\xff\xd8 a jpeg'
        for name in ('..%2Fsecret.jpg', 'e1.jpg', '..%2F..%2Fepisodes.csv', 'e00001_00.jpg%00'):
            assert http.get(f'/api/frames/{name}').status_code == 404, name
        # A restarted console shows the run so far: the aborted episode is in the history, not in the curve.
        assert view['outcomes'] == [{'episode': 1, 'success': True}, {'episode': 3, 'success': False}]
        assert (view['successes'], view['episodes_done'], view['aborted']) == (1, 2, 1)
        assert [h['episode'] for h in view['history']] == [3, 2, 1]
        assert view['history'][2]['prompts'] == ['grasp the sushi', 'put it in the pot']
        assert view['history'][0]['decided_by'] == 'person' and view['needs'] is None
        # The executor's latched e-stop state (engaged elsewhere, e.g. on the terminal) reaches the page.
        probe = ros.add(Node('estop_probe'))
        probe.create_publisher(Bool, '/sarl/emergency_stop_engaged', LATCHED).publish(Bool(data=True))
        ros.wait_for(lambda: http.get('/api/state').json()['estop_engaged'], what='the e-stop state')
        needs = http.get('/api/state').json()['needs']
        assert needs['what'] == 'release' and needs['keys'] == 'u' and needs['since'] > 0


def test_a_demonstration_reaches_the_service_contract_and_waits_for_its_server(ros):
    node = console(ros)
    probe = publish_start(ros, episode=4)
    with httpx.Client(base_url=node.url, timeout=10) as http:
        ros.wait_for(lambda: http.get('/api/state').json()['running'], what='the running episode')
        bad = http.post('/api/demonstrate', json={'prompt': 'pick up\x1b[2J the sushi'})
        assert bad.status_code == 422 and 'printable' in bad.text
        # No node serves the contract yet (the learner side): a clear 503, not a hang.
        missing = http.post('/api/demonstrate', json={'prompt': 'pick up the sushi'})
        assert missing.status_code == 503 and 'no node serves /sarl/demonstrate_prompt' in missing.text
        asked = []

        def serve(request, response):
            asked.append((request.episode, request.decision_step, request.prompt, request.typed))
            response.accepted, response.message = True, 'the next decision uses the operator\'s prompt'
            return response

        probe.create_service(DemonstratePrompt, '/sarl/demonstrate_prompt', serve)
        reply = http.post('/api/demonstrate', json={'prompt': '  put the sushi   in the pot ', 'typed': True})
        assert reply.status_code == 200, reply.text
        assert asked == [(4, 0, 'put the sushi in the pot', True)]
