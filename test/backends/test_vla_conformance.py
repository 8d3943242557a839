"""Conformance with OpenVLA's REST deploy protocol (vla-scripts/deploy.py), both ways.

Both upstream sides run in their own process, as upstream writes them: json_numpy.patch()
(which rewires the json module process-wide), FastAPI + uvicorn on the server, requests on
the client. Our RemoteVLA talks to the upstream-style server; the upstream-style client talks
to sarl-vla-server.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from backend_helpers import TinyTorchVLA

from sarl_ros.backends.vla_client import NoHealthEndpoint, RemoteVLA, RemoteVLAError
from sarl_ros.backends.vla_server import make_server

pytest.importorskip('fastapi')
pytest.importorskip('json_numpy')

# An upstream-protocol server: the shape of deploy.py's OpenVLAServer with a deterministic
# stand-in for the model (action = image mean / 255 and instruction length, unnorm_key echoed).
UPSTREAM_SERVER = textwrap.dedent('''
    import json_numpy
    json_numpy.patch()
    import json, logging, socket, sys, traceback
    from typing import Any, Dict
    import numpy as np
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    def fake_predict_action(image, instruction, unnorm_key):
        key = 0.0 if unnorm_key is None else float(len(unnorm_key))
        return np.array([image.mean() / 255, len(instruction), key, image.shape[0], image.shape[1], 0, 1],
                        dtype=np.float64)

    def predict_action(payload: Dict[str, Any]):
        try:
            if double_encode := "encoded" in payload:
                assert len(payload.keys()) == 1, "Only uses encoded payload!"
                payload = json.loads(payload["encoded"])
            image, instruction = payload["image"], payload["instruction"]
            unnorm_key = payload.get("unnorm_key", None)
            action = fake_predict_action(np.asarray(image, dtype=np.uint8).reshape(image.shape), instruction.lower(),
                                         unnorm_key)
            if double_encode:
                return JSONResponse(json_numpy.dumps(action))
            else:
                return JSONResponse(action)
        except:  # noqa: E722 - as upstream
            logging.error(traceback.format_exc())
            return "error"

    app = FastAPI()
    app.post("/act")(predict_action)
    sock = socket.create_server(("127.0.0.1", 0))
    print("listening on", sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
''')

# An upstream-style client, as deploy.py's docstring shows it (requests + json_numpy.patch()).
UPSTREAM_CLIENT = textwrap.dedent('''
    import sys
    import requests
    import json_numpy
    json_numpy.patch()
    import json
    import numpy as np

    url = sys.argv[1]
    image = np.zeros((32, 40, 3), dtype=np.uint8)
    image[:, :20] = 255
    plain = requests.post(url + "/act", json={"image": image, "instruction": "do something"}).json()
    encoded = requests.post(url + "/act", json={"encoded": json.dumps({"image": image, "instruction": "do something",
                                                                       "unnorm_key": "bridge_orig"})}).json()
    broken = requests.post(url + "/act", json={"instruction": 3})
    print(json.dumps({"plain_type": type(plain).__name__, "plain": np.asarray(plain).tolist(),
                      "encoded_type": type(encoded).__name__, "encoded": json.loads(encoded).tolist(),
                      "broken_status": broken.status_code, "broken": broken.json()}))
''')


@pytest.fixture(scope='module')
def upstream_server(tmp_path_factory):
    script = tmp_path_factory.mktemp('upstream') / 'deploy_like.py'
    script.write_text(UPSTREAM_SERVER)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r'listening on (\d+)', line)
        assert match, f'the upstream-style server did not start: {line!r}'
        yield f'http://127.0.0.1:{match.group(1)}'
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_our_client_against_an_upstream_deploy_server(upstream_server, rgb_image, caplog):
    import logging
    caplog.set_level(logging.INFO)
    client = RemoteVLA(url=upstream_server, unnorm_key='bridge_orig', timeout_s=10.0)
    assert 'not reachable' not in caplog.text and 'no /health' in caplog.text
    with pytest.raises(NoHealthEndpoint):
        client.health()
    client.reset()  # no /reset upstream: tolerated, the client becomes stateless
    action = client.act(rgb_image, 'Close the drawer')
    np.testing.assert_allclose(action, [rgb_image.mean() / 255, len('close the drawer'), len('bridge_orig'),
                                        64, 80, 0, 1])
    assert not client.skill_done()
    with pytest.raises(RemoteVLAError, match='answered "error".*deploy.py'):  # upstream's 200 "error"
        client.act(None, 'close the drawer')


def test_an_upstream_style_client_against_our_server(serve):
    url = serve(make_server(TinyTorchVLA(), port=0))
    image = np.zeros((32, 40, 3), dtype=np.uint8)
    image[:, :20] = 255
    expected = TinyTorchVLA().act(image, 'do something', None)
    script = UPSTREAM_CLIENT
    env = {**os.environ, 'PYTHONPATH': os.environ.get('PYTHONPATH', '')}
    output = subprocess.run([sys.executable, '-c', script, url], capture_output=True, text=True, timeout=60,
                            env=env)
    assert output.returncode == 0, output.stderr
    seen = json.loads(output.stdout)
    assert seen['plain_type'] == 'ndarray'  # json_numpy decoded our answer into an array
    np.testing.assert_allclose(seen['plain'], expected, atol=1e-6)
    assert seen['encoded_type'] == 'str'  # a double-encoded request is answered with a JSON string, as upstream
    np.testing.assert_allclose(seen['encoded'], expected, atol=1e-6)
    assert seen['broken_status'] == 200 and seen['broken'] == 'error'  # upstream's failure answer


def test_the_link_check_command_works_against_an_upstream_server(upstream_server, capsys):
    from sarl_ros.backends.vla_client import main
    assert main(['--url', upstream_server, '-n', '2', '--size', '48', '64']) == 0
    out = capsys.readouterr().out
    assert 'no /health' in out and 'latency over 2 calls' in out and 'not reachable' not in out
