"""Parsing what VLMs answer: JSON, bullets, numbered lines, fences, garbage and refusals."""
from __future__ import annotations

import pytest

from sarl_ros.backends.vlm_replies import (VLMReplyError, parse_commands, parse_yes_no, proposer_prompt,
                                           detector_prompt)


@pytest.mark.parametrize('reply', [
    '["pick up the sushi", "put the sushi in the pot"]',
    '```json\n["pick up the sushi", "put the sushi in the pot"]\n```',
    '{"commands": ["Pick up the sushi.", "put the sushi in the pot"]}',
    '[{"command": "pick up the sushi"}, {"command": "put the sushi in the pot"}]',
    'Here are some commands:\n1. Pick up the sushi\n2) put the sushi in the pot.',
    '- **pick up the sushi**\n- "put the sushi in the pot"',
    'Sure! The next commands:\n* pick up the sushi\n\u2022 put the sushi in the pot',
])
def test_commands_are_found_in_every_common_reply_shape(reply):
    assert [c.lower() for c in parse_commands(reply, 5)] == ['pick up the sushi', 'put the sushi in the pot']


def test_long_lists_are_cut_and_duplicates_dropped():
    reply = '\n'.join(f'{i}. move the gripper left {i} cm' for i in range(1, 30)) + '\n30. move the gripper left 1 cm'
    commands = parse_commands(reply, 4)
    assert len(commands) == 4 and len(set(commands)) == 4


@pytest.mark.parametrize('reply', ['', '   ', "I'm sorry, but I can't help with controlling robots.",
                                   '%%%% 1234 #### ....', '```\n\n```', '{"commands": []}'])
def test_nothing_usable_raises_a_clear_error(reply):
    with pytest.raises(VLMReplyError, match='empty|refusal|no usable'):
        parse_commands(reply, 5)


def test_garbage_lines_are_skipped_but_good_ones_kept():
    reply = 'pick up the cup\n@@@###!!!\n' + 'word ' * 40 + '\nhttp://example.com/x\nopen the drawer'
    assert parse_commands(reply, 8) == ['pick up the cup', 'open the drawer']


@pytest.mark.parametrize('reply, expected', [
    ('{"success": "yes", "confidence": 0.9}', (True, 0.9)),
    ('```json\n{"success": "no", "confidence": 1.7}\n```', (False, 1.0)),
    ('{"answer": true}', (True, None)),
    ('Yes, the sushi is in the pot.', (True, None)),
    ('No.', (False, None)),
    ('It is hard to tell from this angle.', (None, None)),
    ('{"success": "maybe", "confidence": 0.4}', (None, 0.4)),
])
def test_yes_no_replies(reply, expected):
    assert parse_yes_no(reply) == expected


def test_prompts_carry_task_history_and_count():
    text = proposer_prompt('put the sushi in the pot', ['pick up the sushi'], 5)
    assert 'put the sushi in the pot' in text and '1. pick up the sushi' in text and 'up to 5' in text
    assert 'none yet' in proposer_prompt('wipe the table', [], 3)
    assert 'wipe the table' in detector_prompt('wipe the table')
