"""Observable state (one featurizer for simulator and robot), image encoders, and the fair baselines."""
import numpy as np
import pytest

from sarl_ros.core.perception.image_encoders import ColourLayoutEncoder, PretrainedImageEncoder
from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation, Transition
from sarl_ros.core.methods import make_policy
from sarl_ros.core.perception.observable_features import (HISTORY_BUCKETS, OBSERVABLE_DIM, PIXEL_SIDE,
                                                          ObservableFeaturizer, prompt_bucket)


def _frame(colour, side=40, where=slice(None)):
    frame = np.full((side, side, 3), (153, 128, 97), np.uint8)  # table
    frame[:, where] = colour
    return frame


def test_colour_layout_code_says_which_colour_is_where():
    encoder = ColourLayoutEncoder(rows=1, columns=2)
    red = encoder.colour_names.index('red')
    left = encoder.encode(_frame((205, 43, 36), where=slice(0, 20))).reshape(2, -1)
    right = encoder.encode(_frame((205, 43, 36), where=slice(20, 40))).reshape(2, -1)
    assert left[0, red] == pytest.approx(1.0) and left[1, red] == 0.0
    assert right[1, red] == pytest.approx(1.0) and right[0, red] == 0.0
    # Any resolution gives the same layout of the code.
    assert encoder.encode(_frame((205, 43, 36), side=97)).shape == (encoder.dim,)
    with pytest.raises(ValueError, match='uint8'):
        encoder.encode(np.zeros((8, 8, 3), np.float32))


def test_observable_features_layout_and_bad_input():
    featurizer = ObservableFeaturizer()
    joints = np.arange(7, dtype=np.float32)
    x = featurizer.features(_frame((0, 0, 255)), joints, ['grasp the lid', 'grasp the lid'])
    assert x.shape == (featurizer.dim,) and x.dtype == np.float32
    assert np.array_equal(x[:7], joints)
    history = x[7 + featurizer.image_dim:7 + featurizer.image_dim + HISTORY_BUCKETS + 1]
    assert history[prompt_bucket('grasp the lid')] == 2.0 and history[-1] == pytest.approx(0.2)
    # The frame itself closes the state: 32x32, channels first, in [0, 1] (a pure blue frame).
    pixels = x[-featurizer.pixel_dim:].reshape(3, PIXEL_SIDE, PIXEL_SIDE)
    assert featurizer.dim == OBSERVABLE_DIM and np.allclose(pixels[2], 1.0) and np.allclose(pixels[:2], 0.0)
    assert not np.any(featurizer.features(None, joints)[7:7 + featurizer.image_dim])  # no frame: zero code
    assert not np.any(featurizer.features(None, joints)[-featurizer.pixel_dim:])  # and zero pixels
    with pytest.raises(ValueError, match='7 proprioception'):
        featurizer.features(None, np.zeros(6))


def test_a_simulated_checkpoint_runs_on_the_real_robot_featurizer(tmp_path):
    from sarl_ros.backends.featurizers import make_featurizer
    from sarl_ros.core.durability.checkpoint import load_checkpoint, save_checkpoint
    sim = ObservableFeaturizer()
    policy = make_policy('sarl', seed=0, encoder='hashing')
    state = sim.features(_frame((200, 40, 40)), np.zeros(7), [])
    policy.record(Transition(state, 'grasp the lid', 1.0, state, (), True))
    policy.update(2)
    save_checkpoint(policy, tmp_path / 'sim.pt')
    robot = make_featurizer('observable', proprio_dim=7)  # what the executor node builds on a WidowX
    loaded = load_checkpoint(tmp_path / 'sim.pt')
    camera = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    features = robot.features(camera, np.ones(7, np.float32))
    q = loaded.q_values(features, ['grasp the lid', 'open the gripper'])
    assert robot.dim == sim.dim and q.shape == (2,) and np.all(np.isfinite(q))


def test_a_pretrained_encoder_loads_through_transformers(tmp_path):
    transformers = pytest.importorskip('transformers')
    config = transformers.ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                    image_size=32, patch_size=8)
    transformers.ViTModel(config).save_pretrained(tmp_path)
    transformers.ViTImageProcessor(size={'height': 32, 'width': 32}).save_pretrained(tmp_path)
    encoder = PretrainedImageEncoder(str(tmp_path))
    code = encoder.encode(_frame((20, 200, 30), side=50))
    assert encoder.dim == 16 and code.shape == (16,) and np.all(np.isfinite(code))
    other = encoder.encode(_frame((20, 30, 200), side=50))
    assert not np.allclose(code, other)
    featurizer = ObservableFeaturizer(image_encoder=encoder)
    expected = 7 + 16 + HISTORY_BUCKETS + 1 + 3 * PIXEL_SIDE ** 2
    assert featurizer.features(_frame((1, 2, 3)), np.zeros(7)).shape == (expected,)


def _candidates(*prompts):
    return [Candidate('do the task', SOURCE_TASK, 0.0)] + [
        Candidate(p, SOURCE_VLM, round(1.0 - i / len(prompts), 3)) for i, p in enumerate(prompts)]


def test_icl_replays_what_worked_and_avoids_what_failed():
    observation = Observation(features=np.zeros(3, np.float32))
    candidates = _candidates('grasp the pot lid', 'grasp the lid', 'put it on the towel')
    fresh = make_policy('icl', seed=0, encoder='hashing')
    fresh.begin_episode('do the task')
    assert fresh.select(observation, candidates, 'do the task', greedy=True).prompt == 'grasp the pot lid'

    icl = make_policy('icl', seed=0, encoder='hashing')
    for prompts, success in ((('grasp the pot lid', 'put it on the towel'), False),
                             (('grasp the lid', 'put it on the towel'), True)):
        icl.begin_episode('do the task')
        for prompt in prompts:
            icl.select(observation, [c for c in candidates if c.prompt == prompt], 'do the task')
            icl.record(Transition(observation.features, prompt, float(success), observation.features, ('x',), False))
        icl.end_episode(success)
    icl.begin_episode('do the task')
    first = icl.select(observation, candidates, 'do the task', greedy=True)
    assert first.prompt == 'grasp the lid'  # replayed from the success, over the VLM's favourite
    assert icl.select(observation, candidates, 'do the task', greedy=True).prompt == 'put it on the towel'
    assert len(icl.memory) == 2
    # Evaluation episodes (nothing recorded) do not enter the memory.
    icl.end_episode(False)
    assert len(icl.memory) == 2


def test_sarl_blind_sees_no_state():
    blind = make_policy('sarl_blind', seed=0, encoder='hashing')
    a, b = np.zeros(5, np.float32), np.arange(5, dtype=np.float32)
    blind.record(Transition(b, 'grasp the lid', 1.0, b, (), True))
    blind.update(4)
    candidates = _candidates('grasp the lid', 'open the gripper')
    blind.begin_episode('t')  # the same decision step: only the state differs (the budget left does not)
    qa = blind.select(Observation(features=a), candidates, 't', greedy=True).q_values
    blind.begin_episode('t')
    qb = blind.select(Observation(features=b), candidates, 't', greedy=True).q_values
    assert qa == qb
    # Nothing of the state is stored (the last value is the budget left, which is not the state).
    assert not np.any(blind.learner.replay.states[:len(blind.learner.replay), :-1])
    sighted = make_policy('sarl', seed=0, encoder='hashing')
    sighted.record(Transition(b, 'grasp the lid', 1.0, b, (), True))
    sighted.update(4)
    assert sighted.select(Observation(features=a), candidates, 't').q_values != \
        sighted.select(Observation(features=b), candidates, 't').q_values


def test_the_oracle_ablation_asks_for_privileged_state():
    assert make_policy('sarl_oracle', encoder='hashing').state_mode == 'oracle'
    assert make_policy('sarl', encoder='hashing').state_mode == 'observable'
    assert not make_policy('fixed').learns and not make_policy('random').learns and make_policy('icl').learns
