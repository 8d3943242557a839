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


EXPECTED = ['pick up the sushi', 'put the sushi in the pot']


@pytest.mark.parametrize('reply', [
    # Two fenced blocks: the plan in Python first, the answer in JSON second.
    '```python\nrobot.move(x=[0.1, 0.2])\n```\nAnswer:\n'
    '```json\n["pick up the sushi", "put the sushi in the pot"]\n```',
    # Two untagged blocks, the first without a usable list.
    '```\nthinking about [it]\n```\n```\n["pick up the sushi", "put the sushi in the pot"]\n```',
    # JSON followed by a later bracket.
    '["pick up the sushi", "put the sushi in the pot"]\nThe first command follows [1].',
    '{"commands": ["pick up the sushi", "put the sushi in the pot"]} (see [1], [2])',
    # A reasoning model's scratchpad with brackets in it.
    '<think>Options: [a] grasp, [b] push. The list ["wave"] is wrong. {maybe}</think>\n'
    '["pick up the sushi", "put the sushi in the pot"]',
    # Single-quoted (Python) lists.
    "['pick up the sushi', 'put the sushi in the pot']",
    "Sure: ['pick up the sushi', \"put the sushi in the pot\"] [1]",
])
def test_commands_are_found_in_harder_reply_shapes(reply):
    assert parse_commands(reply, 5) == EXPECTED


def test_yes_no_skips_thinking_and_takes_the_answer_object():
    assert parse_yes_no('<think>is it {"success": "no"}? [unsure]</think>{"success": "yes", "confidence": 0.8}') == \
        (True, 0.8)
    assert parse_yes_no('<think>hmm [2]</think>\nNo, the pot is empty.') == (False, None)
    assert parse_yes_no("```\nYes\n```") == (True, None)


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
