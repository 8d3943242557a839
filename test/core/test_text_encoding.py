import os
import subprocess
import sys

import numpy as np
import pytest

from sarl_ros.core.perception.text_encoding import CachedEncoder, HashingEncoder, make_encoder, minilm_available

PROMPTS = ['pick up the sushi', 'grasp the sushi', 'open the drawer', 'pick up the sushi']


def test_hashing_encoder_rows_are_unit_float32():
    out = HashingEncoder(dim=64).encode(PROMPTS)
    assert out.shape == (4, 64) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out[0], out[3])


def test_hashing_encoder_places_paraphrases_closer_than_unrelated_commands():
    a, b, c, _ = HashingEncoder().encode(PROMPTS)
    assert a @ b > a @ c + 0.2


def test_hashing_encoder_is_identical_across_processes():
    code = ('import sys; from sarl_ros.core.perception.text_encoding import HashingEncoder; '
            'sys.stdout.write(HashingEncoder().encode(["pick up the sushi"]).tobytes().hex())')
    outputs = set()
    for seed in ('1', '2'):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outputs.add(subprocess.run([sys.executable, '-c', code], env=env, check=True, capture_output=True,
                                   text=True).stdout)
    assert len(outputs) == 1
    assert outputs.pop() == HashingEncoder().encode(['pick up the sushi']).tobytes().hex()


def test_cached_encoder_encodes_each_text_once():
    class Counting(HashingEncoder):
        seen = []

        def encode(self, texts):
            self.seen.extend(texts)
            return super().encode(texts)

    inner = Counting(dim=32)
    cached = CachedEncoder(inner)
    first = cached.encode(PROMPTS)
    second = cached.encode(['open the drawer', 'a new prompt'])
    assert inner.seen == ['pick up the sushi', 'grasp the sushi', 'open the drawer', 'a new prompt']
    np.testing.assert_array_equal(second[0], first[2])
    assert cached.hits == 2 and cached.misses == 4


def test_cache_capacity_evicts_the_least_recent():
    cached = CachedEncoder(HashingEncoder(dim=16), capacity=2)
    cached.encode(['a', 'b', 'c'])
    assert len(cached._cache) == 2


def test_make_encoder_names():
    with pytest.raises(ValueError, match='hashing'):
        make_encoder('word2vec')
    assert make_encoder('hashing').name == 'hashing'
    assert make_encoder('auto').name in ('minilm', 'hashing')


@pytest.mark.skipif(not minilm_available(), reason='MiniLM packages not installed')
def test_minilm_encoder_offline():
    encoder = make_encoder('minilm')
    out = encoder.encode(PROMPTS)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-4)
    assert out[0] @ out[1] > out[0] @ out[2]


@pytest.mark.skipif(not minilm_available(), reason='MiniLM packages not installed')
def test_a_minilm_embedding_does_not_depend_on_the_texts_encoded_with_it():
    from sarl_ros.core.perception.text_encoding import MiniLMEncoder
    encoder = MiniLMEncoder()
    short, long = 'grasp the cube', 'move the gripper slowly to the left of the red pot and then open it'
    together = encoder.encode([short, long])
    assert np.array_equal(together[0], encoder.encode([short])[0])
    assert np.array_equal(together[1], encoder.encode([long])[0])


class GatedMiniLM:
    """Stands in for MiniLMEncoder: its load takes until the test opens the gate (or fails)."""

    name, dim = 'minilm', 384
    gate = None
    fail = False
    loads = 0

    def __init__(self):
        GatedMiniLM.loads += 1
        GatedMiniLM.gate.wait(10)
        if GatedMiniLM.fail:
            raise OSError('model files missing')

    def encode(self, texts):
        return np.ones((len(texts), self.dim), np.float32) / np.sqrt(self.dim)


@pytest.fixture
def gated(monkeypatch):
    import threading

    from sarl_ros.core.perception import text_encoding
    monkeypatch.setattr(text_encoding, '_SHARED', {})
    monkeypatch.setattr(text_encoding, 'MiniLMEncoder', GatedMiniLM)
    monkeypatch.setattr(text_encoding, 'minilm_available', lambda: True)
    GatedMiniLM.gate, GatedMiniLM.fail, GatedMiniLM.loads = threading.Event(), False, 0
    return text_encoding


def test_a_preloaded_minilm_is_handed_out_at_once_and_loads_only_once_asked_for(gated):
    loader = gated.preload_minilm()
    assert loader is not None and gated.preload_minilm() is None  # one shared loader
    import time
    time.sleep(0.05)
    assert GatedMiniLM.loads == 0  # nobody asked for it: nothing loads
    encoder = gated.make_encoder('auto')  # returns while the model still loads
    assert (encoder.name, encoder.dim) == ('minilm', 384) and not loader.wait(0.05)
    GatedMiniLM.gate.set()
    assert encoder.encode(['grasp the lid']).shape == (1, 384)  # waits for the load
    assert GatedMiniLM.loads == 1 and loader.error is None and loader.seconds is not None


def test_a_preloaded_minilm_that_fails_to_load_says_so_when_used(gated):
    GatedMiniLM.fail = True
    GatedMiniLM.gate.set()
    loader = gated.preload_minilm()
    encoder = gated.make_encoder('minilm')
    with pytest.raises(RuntimeError, match='the MiniLM encoder did not load: model files missing'):
        encoder.encode(['grasp the lid'])
    assert isinstance(loader.error, OSError)
