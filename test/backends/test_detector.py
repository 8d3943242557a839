"""The VLM success detector: text answers over a chat server, token probabilities of a local model."""
from __future__ import annotations

import numpy as np
import pytest
from backend_helpers import make_chat_server

from sarl_ros.backends.detector import VLMSuccessDetector
from sarl_ros.backends.catalog import make_detector
from sarl_ros.backends.vlm_replies import DETECTOR_SYSTEM, detector_prompt

TASK = 'put the sushi in the pot'


def detector_for(serve, replies, **kw):
    server, log = make_chat_server(replies)
    url = serve(server)
    return make_detector('vlm', base_url=url + '/v1', model='judge', api_key_env='', **kw), log


@pytest.mark.parametrize('reply, expected', [
    ('{"success": "yes", "confidence": 0.92}', (True, 0.92)),
    ('{"success": "no", "confidence": 0.8}', (False, 0.8)),
    ('Yes.', (True, 0.75)),
    ('{"success": "yes", "confidence": 0.55}', (None, 0.55)),  # below min_confidence: undecided
    ('I cannot see the pot in this image.', (None, 0.0)),
])
def test_text_answers_become_verdicts(serve, rgb_image, reply, expected):
    detector, log = detector_for(serve, [reply])
    assert detector.evaluate(rgb_image, TASK) == expected
    body = log[0][1]
    assert TASK in body['messages'][1]['content'][0]['text']
    assert body['messages'][1]['content'][1]['image_url']['url'].startswith('data:image/png;base64,')


def test_reward_node_call_shape_and_no_image():
    detector = make_detector('vlm', base_url='http://127.0.0.1:9/v1', api_key_env='')
    assert detector.evaluate(None, TASK, object()) == (None, 0.0)  # nothing to judge: no VLM call


def test_unknown_detector_and_vlm_backend_list_choices():
    with pytest.raises(ValueError, match="choose one of \\['vlm'\\]"):
        make_detector('clip')
    with pytest.raises(ValueError, match='hf_vlm'):
        make_detector('vlm', backend='gemini')


class ProbabilityClient:
    def __init__(self, p_yes):
        self.p_yes = p_yes

    def yes_probability(self, system, text, image):
        return self.p_yes


@pytest.mark.parametrize('p_yes, expected', [(0.9, (True, 0.9)), (0.2, (False, 0.8)), (0.55, (None, 0.55))])
def test_token_probabilities_give_verdict_and_confidence(p_yes, expected):
    success, confidence = VLMSuccessDetector(ProbabilityClient(p_yes)).evaluate(np.zeros((4, 4, 3), np.uint8), TASK)
    assert success == expected[0] and confidence == pytest.approx(expected[1])


def test_tiny_local_vlm_scores_yes_against_no(tiny_vlm_dir, rgb_image):
    import torch
    torch.set_num_threads(1)
    detector = make_detector('vlm', backend='hf_vlm', model=tiny_vlm_dir, device='cpu', min_confidence=0.5)
    p_yes = detector.client.yes_probability(DETECTOR_SYSTEM, detector_prompt(TASK), rgb_image)
    assert 0.0 < p_yes < 1.0
    success, confidence = detector.evaluate(rgb_image, TASK)
    assert success == (p_yes >= 0.5) and confidence == pytest.approx(max(p_yes, 1 - p_yes))
    head = detector.client.model.lm_head.weight
    saved = head.detach().clone()
    try:
        with torch.no_grad():
            head.zero_()  # every token equally likely: as likely yes as no, so undecided
        detector.min_confidence = 0.6
        success, confidence = detector.evaluate(rgb_image, TASK)
    finally:
        with torch.no_grad():
            head.copy_(saved)
    assert success is None and confidence == pytest.approx(0.5)
