"""The VLM proposer over a chat-completions server in the test, and over a tiny local transformers model."""
from __future__ import annotations

import base64
import io
import logging

import numpy as np
import pytest
from backend_helpers import make_chat_server

from sarl_ros.backends.catalog import make_proposer
from sarl_ros.backends.vlm_clients import OpenAIChatClient, VLMError
from sarl_ros.backends.vlm_replies import VLMReplyError
from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Observation
from sarl_ros.core.proposals import normalize_candidates

TASK = 'put the sushi in the pot'
SECRET = 'sk-test-not-a-real-key-123456'


@pytest.fixture
def observation(rgb_image):
    return Observation(features=np.zeros(4, np.float32), image=rgb_image)


def openai_proposer(serve, replies, monkeypatch, delay_s=0.0, **kw):
    server, log = make_chat_server(replies, delay_s=delay_s)
    url = serve(server)
    monkeypatch.setenv('SARL_TEST_KEY', SECRET)
    proposer = make_proposer('openai', base_url=url + '/v1', model='test-vlm', api_key_env='SARL_TEST_KEY', **kw)
    return proposer, log


def test_openai_request_carries_image_task_history_and_key(serve, monkeypatch, observation, rgb_image):
    proposer, log = openai_proposer(serve, ['["pick up the sushi", "put the sushi in the pot", "open the pot"]'],
                                    monkeypatch)
    candidates = proposer.propose(observation, TASK, ['move the gripper left'], 4)
    headers, body = log[0]
    assert headers['Authorization'] == f'Bearer {SECRET}'
    assert body['model'] == 'test-vlm'
    text, image_part = body['messages'][1]['content']
    assert TASK in text['text'] and 'move the gripper left' in text['text'] and 'up to 3' in text['text']
    url = image_part['image_url']['url']
    assert url.startswith('data:image/png;base64,')
    from PIL import Image
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(',', 1)[1]))))
    np.testing.assert_array_equal(decoded, rgb_image)  # PNG is lossless
    assert candidates[0].prompt == TASK and candidates[0].source == SOURCE_TASK
    assert [c.prompt for c in candidates[1:]] == ['pick up the sushi', 'put the sushi in the pot', 'open the pot']
    assert all(c.source == SOURCE_VLM for c in candidates[1:])
    assert candidates[1].vlm_score > candidates[3].vlm_score
    # The node normalises: the VLM's copy of the task merges into the task candidate.
    assert len(normalize_candidates(candidates)) == 3


def test_the_key_is_never_logged_or_put_in_errors(serve, monkeypatch, observation, caplog):
    proposer, _ = openai_proposer(serve, [401], monkeypatch)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(VLMError, match='SARL_TEST_KEY') as info:
        proposer.propose(observation, TASK, [], 4)
    assert SECRET not in str(info.value) and SECRET not in caplog.text and SECRET not in repr(proposer.client)


def test_over_long_lists_are_cut_to_k(serve, monkeypatch, observation):
    reply = '\n'.join(f'{i}. push the block {i} cm' for i in range(1, 40))
    proposer, _ = openai_proposer(serve, [reply], monkeypatch)
    assert len(proposer.propose(observation, TASK, [], 5)) == 5


@pytest.mark.parametrize('reply', ["I'm sorry, I can't help with that.", '@@@ ### 12345', ''])
def test_refusals_and_garbage_raise_so_the_node_falls_back(serve, monkeypatch, observation, reply):
    proposer, _ = openai_proposer(serve, [reply], monkeypatch)
    with pytest.raises(VLMReplyError):
        proposer.propose(observation, TASK, [], 4)


def test_api_refusal_field_and_server_errors_are_clear(serve, monkeypatch, observation):
    refusal = {'choices': [{'index': 0, 'finish_reason': 'stop',
                            'message': {'role': 'assistant', 'content': None, 'refusal': 'Not allowed.'}}]}
    proposer, _ = openai_proposer(serve, [refusal], monkeypatch)
    with pytest.raises(VLMError, match='refused'):
        proposer.propose(observation, TASK, [], 4)
    proposer, log = openai_proposer(serve, [503, 503, 503], monkeypatch, retries=1)
    with pytest.raises(VLMError, match='after 2 attempts.*503'):
        proposer.propose(observation, TASK, [], 4)
    assert len(log) == 2


def test_transient_server_error_is_retried(serve, monkeypatch, observation):
    proposer, log = openai_proposer(serve, [429, '["wipe the table"]'], monkeypatch, retries=1)
    assert [c.prompt for c in proposer.propose(observation, TASK, [], 3)] == [TASK, 'wipe the table']
    assert len(log) == 2


def test_slow_vlm_times_out(serve, monkeypatch, observation):
    proposer, _ = openai_proposer(serve, ['["pick up the sushi"]'], monkeypatch, delay_s=1.0, timeout_s=0.2,
                                  retries=0)
    with pytest.raises(VLMError, match='timed out|Timeout'):
        proposer.propose(observation, TASK, [], 4)


def test_one_candidate_is_the_task_without_calling_the_vlm(observation):
    client = OpenAIChatClient(base_url='http://127.0.0.1:9/v1', api_key_env='')  # would fail if called
    from sarl_ros.backends.vlm_proposer import VLMProposer
    candidates = VLMProposer(client).propose(observation, TASK, [], 1)
    assert [(c.prompt, c.source) for c in candidates] == [(TASK, SOURCE_TASK)]


@pytest.mark.parametrize('model, reasoning', [('o1', True), ('o3-mini', True), ('o4-mini-2025-04-16', True),
                                              ('gpt-5', True), ('gpt-5-mini', True), ('openai/o3', True),
                                              ('gpt-4o', False), ('Qwen/Qwen2.5-VL-7B-Instruct', False),
                                              ('llava-onevision', False), ('gpt-4.1', False)])
def test_reasoning_models_get_max_completion_tokens_and_no_temperature(serve, monkeypatch, observation, model,
                                                                       reasoning):
    server, log = make_chat_server(['["pick up the sushi"]'])
    url = serve(server)
    proposer = make_proposer('openai', base_url=url + '/v1', model=model, api_key_env='', max_tokens=99)
    proposer.propose(observation, TASK, [], 3)
    body = log[0][1]
    if reasoning:
        assert body['max_completion_tokens'] == 99 and 'max_tokens' not in body and 'temperature' not in body
    else:
        assert body['max_tokens'] == 99 and 'max_completion_tokens' not in body and 'temperature' in body


def test_unknown_backend_lists_choices():
    with pytest.raises(ValueError, match="\\['hf_vlm', 'openai', 'sim'\\]"):
        make_proposer('claude')


def test_tiny_local_transformers_vlm_proposes_or_fails_clearly(tiny_vlm_dir, observation):
    import torch
    torch.set_num_threads(1)
    proposer = make_proposer('hf_vlm', model=tiny_vlm_dir, device='cpu', max_new_tokens=12)
    reply = proposer.client.complete('system text', 'pick up the cup ?', observation.image)
    assert isinstance(reply, str)
    assert reply == proposer.client.complete('system text', 'pick up the cup ?', observation.image)  # greedy
    try:
        candidates = proposer.propose(observation, TASK, ['open the drawer'], 4)
    except VLMReplyError as exc:  # random weights may well produce nothing usable
        assert 'no usable command' in str(exc) or 'empty' in str(exc)
    else:
        assert candidates[0].source == SOURCE_TASK and 2 <= len(candidates) <= 4


def test_local_vlm_reply_is_parsed_into_candidates(tiny_vlm_dir, observation, monkeypatch):
    import torch
    torch.set_num_threads(1)
    proposer = make_proposer('hf_vlm', model=tiny_vlm_dir, device='cpu', max_new_tokens=8)
    processor = proposer.client.processor
    # Make the tiny model "say" a numbered list: generate returns these ids after the prompt.
    answer_ids = processor.tokenizer.encode('pick up the cup', add_special_tokens=False)

    def scripted_generate(input_ids=None, **kwargs):
        return torch.cat([input_ids, torch.tensor([answer_ids])], dim=1)
    monkeypatch.setattr(proposer.client.model, 'generate', scripted_generate)
    candidates = proposer.propose(observation, TASK, [], 3)
    assert [c.prompt for c in candidates] == [TASK, 'pick up the cup']


def test_the_vlm_chooses_from_a_frozen_pool_and_replies_outside_it_are_dropped(serve, monkeypatch, observation, caplog):
    pool = ['pick up the sushi', 'put it in the pot', 'move down and grasp', TASK]
    proposer, log = openai_proposer(serve, ['["Put it in the pot.", "juggle the pot", "pick up the sushi"]'],
                                    monkeypatch)
    with caplog.at_level(logging.WARNING):
        candidates = proposer.choose_from_pool(observation, TASK, [], pool, 4)
    # The prompt lists the pool; the reply maps back by exact (normalised) match, in the VLM's order.
    _, body = log[0]
    text = str(body['messages'])
    assert all(f'- {p}' in text for p in pool[:3])
    chosen = [(c.prompt, c.source) for c in candidates]
    assert chosen == [(TASK, SOURCE_TASK), ('put it in the pot', SOURCE_VLM), ('pick up the sushi', SOURCE_VLM)]
    assert 'juggle the pot' in caplog.text and 'not in the instruction pool' in caplog.text
    nothing, _ = openai_proposer(serve, ['["juggle the pot"]'], monkeypatch)
    with pytest.raises(VLMReplyError, match='no command of the instruction pool'):
        nothing.choose_from_pool(observation, TASK, [], pool, 4)
