"""Shared fixtures of the backend tests: small torch models, images, loopback servers."""
from __future__ import annotations

import os
import sys
import tempfile
import threading

import numpy as np
import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
# Remote model code is copied into this cache: keep it out of the user's home.
os.environ.setdefault('HF_MODULES_CACHE', tempfile.mkdtemp(prefix='sarl_hf_modules_'))
sys.path.insert(0, os.path.dirname(__file__))  # backend_helpers


@pytest.fixture
def rgb_image():
    """Return a deterministic 64x80 RGB frame with some structure."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(64, 80, 3), dtype=np.uint8)
    image[10:30, 20:50] = (255, 0, 0)
    return image


@pytest.fixture
def serve():
    """Start an http.server in a thread; yield a function that returns its base URL."""
    servers = []

    def start(server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        host, port = server.server_address[:2]
        return f'http://{host}:{port}'

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope='session')
def tiny_vlm_dir(tmp_path_factory):
    """Return a directory holding a tiny random LLaVA-style checkpoint with Bridge norm_stats."""
    from backend_helpers import build_tiny_vision_to_text
    return build_tiny_vision_to_text(tmp_path_factory.mktemp('tiny_vlm'))
