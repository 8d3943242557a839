"""The local OpenVLA-style backend: action decoding, and loading a tiny random checkpoint from disk."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from backend_helpers import BASE_VOCAB, BRIDGE_STATS, build_tiny_vision_to_text

from sarl_ros.backends.action_tokens import ActionTokenDecoder, select_action_stats, unnormalize
from sarl_ros.backends.openvla import LoadedVLA, OpenVLAPolicy, format_prompt
from sarl_ros.backends.catalog import make_vla

torch = pytest.importorskip('torch')
torch.set_num_threads(1)


def test_decoder_maps_the_last_vocabulary_ids_to_uniform_bins():
    decoder = ActionTokenDecoder(vocab_size=1000)
    assert decoder.token_range == (744, 1000)
    half_bin = 1.0 / 255
    np.testing.assert_allclose(decoder.normalized([999, 745, 744]), [-1 + half_bin, 1 - half_bin, 1 - half_bin])
    values = np.linspace(-0.99, 0.99, 21)
    # Encoding then decoding lands within one bin width (2/255).
    assert np.max(np.abs(decoder.normalized(decoder.token_ids(values)) - values)) <= 2 / 255


def test_unnormalize_scales_masked_dimensions_and_keeps_the_gripper():
    stats = select_action_stats(BRIDGE_STATS, 'bridge_orig')
    action = unnormalize([-1, 1, 0, 0, 0, 0, 0.7], stats)
    q01, q99 = stats['q01'], stats['q99']
    np.testing.assert_allclose(action[:3], [q01[0], q99[1], (q01[2] + q99[2]) / 2])
    assert action[6] == pytest.approx(0.7)


def test_unknown_or_ambiguous_unnorm_keys_list_the_available_ones():
    with pytest.raises(ValueError, match="available: \\['bridge_orig'\\]"):
        select_action_stats(BRIDGE_STATS, 'fractal')
    two = {**BRIDGE_STATS, 'fractal': BRIDGE_STATS['bridge_orig']}
    with pytest.raises(ValueError, match='several datasets'):
        select_action_stats(two, None)
    assert select_action_stats(BRIDGE_STATS, None)['q01'].shape == (7,)
    with pytest.raises(ValueError, match='no norm_stats'):
        select_action_stats(None, 'bridge_orig')


def test_prompt_is_openvla_format():
    assert format_prompt('  Put the Sushi in the pot ') == \
        'In: What action should the robot take to put the sushi in the pot?\nOut:'


@pytest.fixture(scope='module')
def tiny_policy(tiny_vlm_dir):
    return make_vla('openvla', model=tiny_vlm_dir, device='cpu', unnorm_key='bridge_orig')


def test_tiny_checkpoint_loads_through_the_real_loader_and_acts(tiny_policy, rgb_image):
    assert not tiny_policy.uses_predict_action
    assert tiny_policy.loaded.dtype == torch.float32 and tiny_policy.loaded.device == 'cpu'
    assert tiny_policy.decoder.token_range == (BASE_VOCAB - 256, BASE_VOCAB)
    action = tiny_policy.act(rgb_image, 'pick up the cup', np.zeros(7))
    stats = tiny_policy.stats
    assert action.shape == (7,) and np.all(np.isfinite(action))
    assert np.all(action[:6] >= stats['q01'][:6] - 1e-9) and np.all(action[:6] <= stats['q99'][:6] + 1e-9)
    assert -1 <= action[6] <= 1
    np.testing.assert_array_equal(action, tiny_policy.act(rgb_image, 'pick up the cup', np.zeros(7)))  # greedy


def test_generated_tokens_are_restricted_to_action_ids_and_decoded(tiny_policy, rgb_image):
    head = tiny_policy.loaded.model.lm_head.weight
    saved = head.detach().clone()
    try:
        with torch.no_grad():
            head.zero_()  # every logit equal: greedy picks the lowest allowed id, the first action token
        action = tiny_policy.act(rgb_image, 'open the drawer', np.zeros(7))
    finally:
        with torch.no_grad():
            head.copy_(saved)
    first_action_id = BASE_VOCAB - 256
    expected = unnormalize(tiny_policy.decoder.normalized([first_action_id] * 7), tiny_policy.stats)
    np.testing.assert_allclose(action, expected)
    assert action[0] == pytest.approx(0.03 - 0.06 / 255 / 2 * 1, abs=1e-3)


def test_missing_image_and_unknown_key_give_clear_errors(tiny_policy, tiny_vlm_dir):
    with pytest.raises(ValueError, match='needs a camera image'):
        tiny_policy.act(None, 'pick up the cup', np.zeros(7))
    with pytest.raises(ValueError, match="available: \\['bridge_orig'\\]"):
        OpenVLAPolicy(model=tiny_vlm_dir, unnorm_key='libero_spatial', loaded=tiny_policy.loaded)


def test_dataset_statistics_file_of_a_fine_tuned_checkpoint_wins(tmp_path, rgb_image):
    directory = build_tiny_vision_to_text(tmp_path / 'finetuned')
    stats = {'my_lab_widowx': {'action': {'q01': [-1.0] * 6 + [0.0], 'q99': [1.0] * 6 + [1.0],
                                          'mask': [True] * 6 + [False]}}}
    with open(os.path.join(directory, 'dataset_statistics.json'), 'w') as f:
        json.dump(stats, f)
    policy = make_vla('openvla', model=directory, device='cpu', unnorm_key='my_lab_widowx')
    assert policy.act(rgb_image, 'pick up the cup').shape == (7,)
    np.testing.assert_allclose(policy.stats['q99'], stats['my_lab_widowx']['action']['q99'])


def test_remote_code_checkpoint_uses_its_predict_action(tmp_path, rgb_image):
    directory = build_tiny_vision_to_text(tmp_path / 'remote', remote_code=True)
    policy = make_vla('openvla', model=directory, device='cpu', unnorm_key='bridge_orig')
    assert policy.uses_predict_action and type(policy.loaded.model).__name__ == 'TinyOpenVLA'
    action = policy.act(rgb_image, 'close the drawer')
    stats = BRIDGE_STATS['bridge_orig']['action']
    np.testing.assert_allclose(action, (np.array(stats['q01']) + np.array(stats['q99'])) / 2)
    call = policy.loaded.model.last_call
    assert call['unnorm_key'] == 'bridge_orig' and call['has_pixels'] and call['do_sample'] is False
    assert call['can_generate']  # OpenVLA's predict_action calls generate


def test_fine_tuned_remote_code_checkpoint_gets_its_dataset_statistics(tmp_path, rgb_image):
    directory = build_tiny_vision_to_text(tmp_path / 'remote_finetuned', remote_code=True)
    stats = {'my_lab': {'action': {'q01': [0.0] * 7, 'q99': [2.0] * 7, 'mask': [True] * 7}}}
    with open(os.path.join(directory, 'dataset_statistics.json'), 'w') as f:
        json.dump(stats, f)
    policy = make_vla('openvla', model=directory, device='cpu', unnorm_key='my_lab')
    np.testing.assert_allclose(policy.act(rgb_image, 'close the drawer'), np.ones(7))


def test_predict_action_receives_the_prompt_and_key():
    class Processor:
        def __call__(self, text, images, return_tensors):
            self.text = text

            class Batch(dict):
                def to(self, *args, **kwargs):
                    return self
            return Batch(input_ids=np.zeros((1, 3)))

    class Model:
        def predict_action(self, input_ids, unnorm_key, do_sample):
            self.key = unnorm_key
            return np.arange(7.0)

    loaded = LoadedVLA(model=Model(), processor=Processor(), norm_stats=BRIDGE_STATS, device='cpu', dtype=None)
    policy = OpenVLAPolicy(unnorm_key='bridge_orig', loaded=loaded)
    action = policy.act(np.zeros((8, 8, 3), np.uint8), 'Wipe the table')
    np.testing.assert_array_equal(action, np.arange(7.0))
    assert loaded.processor.text == 'In: What action should the robot take to wipe the table?\nOut:'
    assert loaded.model.key == 'bridge_orig'


def test_cuda_request_without_cuda_is_a_clear_error(tiny_vlm_dir):
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    with pytest.raises(RuntimeError, match='no CUDA device'):
        make_vla('openvla', model=tiny_vlm_dir, device='cuda:0')


def test_v01_checkpoints_get_the_v01_system_prompt():
    from sarl_ros.backends.openvla import V01_SYSTEM_PROMPT
    prompt = format_prompt('Pick up the cup', 'openvla/openvla-v01-7b')
    assert prompt == f'{V01_SYSTEM_PROMPT} USER: What action should the robot take to pick up the cup? ASSISTANT:'
    assert format_prompt('Pick up the cup', '/models/openvla-7b-finetuned').startswith('In: What action')


def test_frames_are_prepared_as_openvlas_bridge_evaluation(rgb_image):
    import io

    from PIL import Image

    from sarl_ros.backends.openvla import prepare_bridge_image
    frame = np.kron(rgb_image, np.ones((4, 4, 1), np.uint8))  # 256x320, structure at several scales
    prepared = prepare_bridge_image(frame, 224)
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format='JPEG', quality=95)
    expected = np.asarray(Image.open(buffer).convert('RGB').resize((224, 224), Image.LANCZOS))
    assert prepared.shape == (224, 224, 3) and prepared.dtype == np.uint8
    np.testing.assert_array_equal(prepared, expected)
    bilinear = np.asarray(Image.fromarray(frame).resize((224, 224), Image.BILINEAR))
    assert np.abs(prepared.astype(int) - bilinear.astype(int)).mean() > 1.0  # not what we did before
    assert prepare_bridge_image(prepared, 224) is prepared  # already prepared: untouched
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        prepare_bridge_image(frame[..., 0], 224)


def test_the_policy_feeds_prepared_frames_and_the_v01_prompt():
    seen = {}

    class Processor:
        def __call__(self, text, images, return_tensors):
            seen['text'], seen['size'] = text, images.size

            class Batch(dict):
                def to(self, *args, **kwargs):
                    return self
            return Batch(input_ids=np.zeros((1, 3)))

    class Model:
        def predict_action(self, input_ids, unnorm_key, do_sample):
            return np.zeros(7)

    loaded = LoadedVLA(model=Model(), processor=Processor(), norm_stats=BRIDGE_STATS, device='cpu', dtype=None)
    policy = OpenVLAPolicy(model='openvla/openvla-v01-7b', unnorm_key='bridge_orig', loaded=loaded)
    policy.act(np.zeros((480, 640, 3), np.uint8), 'wipe the table')
    assert seen['size'] == (224, 224) and 'ASSISTANT:' in seen['text']


def test_the_loader_asks_for_low_cpu_memory_loading(tiny_vlm_dir, monkeypatch):
    from sarl_ros.backends import openvla
    captured = {}
    original = openvla._auto_vision_to_text_class

    def capturing(transformers):
        auto = original(transformers)

        class Capturing:
            @staticmethod
            def from_pretrained(model_id, **kwargs):
                captured.update(kwargs)
                return auto.from_pretrained(model_id, **kwargs)
        return Capturing
    monkeypatch.setattr(openvla, '_auto_vision_to_text_class', capturing)
    openvla.load_vla(tiny_vlm_dir, device='cpu')
    assert captured['low_cpu_mem_usage'] is True and captured['trust_remote_code'] is True
