"""Prompts for a VLM and robust parsing of what it answers (pure text handling)."""
from __future__ import annotations

import ast
import json
import re
from typing import Sequence

DEFAULT_VOCABULARY = (
    'pick up <object>', 'put <object> in/on <place>', 'move <object> to the left/right of <object>',
    'open/close the drawer', 'push <object> <direction>', 'flip <object>', 'wipe <place>',
    'move the gripper up/down/left/right/forward/back')
MAX_COMMAND_WORDS = 15
MAX_COMMAND_CHARS = 120
REFUSAL_MARKERS = ("i'm sorry", 'i am sorry', 'i cannot', "i can't", 'i can not', 'as an ai', 'unable to assist',
                   'cannot help with', "can't help with", 'i apologize')
PREAMBLE_MARKERS = ('here are', 'here is', 'sure', 'certainly', 'the following', 'commands:', 'next commands')
LIST_KEYS = ('commands', 'candidates', 'prompts', 'actions', 'instructions', 'steps')
ITEM_KEYS = ('command', 'prompt', 'instruction', 'text', 'action')

PROPOSER_SYSTEM = ('You plan for a robot arm that follows short spoken commands. You look at the camera image '
                   'and propose what the robot should be told to do next.')
DETECTOR_SYSTEM = 'You judge from a camera image whether a robot finished its task.'


class VLMReplyError(ValueError):
    """The VLM's reply held nothing usable (refusal, garbage, empty)."""


def proposer_prompt(task: str, history: Sequence[str], k: int, vocabulary: Sequence[str] = DEFAULT_VOCABULARY) -> str:
    """Return the user text asking for k candidate commands."""
    done = '\n'.join(f'{i}. {h}' for i, h in enumerate(history, 1)) if history else 'none yet'
    return (f'Task: {task}\n'
            f'Commands already executed, oldest first:\n{done}\n\n'
            f'Propose up to {k} different commands the robot could execute next to progress on the task. '
            f'Each is one short imperative sentence of at most 12 words, naming objects you see in the image, '
            f'in the robot\'s vocabulary: {"; ".join(vocabulary)}.\n'
            f'Reply with only a JSON list of strings, best first, e.g. ["pick up the sponge", '
            f'"put the sponge in the bowl"].')


def pool_prompt(task: str, history: Sequence[str], k: int, pool: Sequence[str]) -> str:
    """Return the user text asking for k commands chosen, verbatim, from a frozen instruction pool."""
    done = '\n'.join(f'{i}. {h}' for i, h in enumerate(history, 1)) if history else 'none yet'
    listed = '\n'.join(f'- {p}' for p in pool)
    return (f'Task: {task}\n'
            f'Commands already executed, oldest first:\n{done}\n\n'
            f'The robot knows only these commands:\n{listed}\n\n'
            f'Choose up to {k} of them that are relevant next, given the image. Copy each exactly as written. '
            f'Reply with only a JSON list of strings, best first.')


def detector_prompt(task: str) -> str:
    """Return the user text asking whether the task succeeded."""
    return (f'Task given to the robot: {task}\n'
            f'Look at the image. Has the task been completed successfully? Answer with only JSON: '
            f'{{"success": "yes" or "no", "confidence": a number from 0 to 1}}.')


_FENCE = re.compile(r'```([a-zA-Z0-9_-]*)[ \t]*\n?(.*?)```', flags=re.S)
_THINK = re.compile(r'<(think|thinking|reasoning)>.*?</\1>', flags=re.S | re.I)


def strip_thinking(text: str) -> str:
    """Return the reply without <think>...</think> sections (reasoning models' scratchpad)."""
    return _THINK.sub(' ', text)


def strip_code_fences(text: str) -> str:
    """Return the text inside the first markdown code fence when there is one."""
    match = _FENCE.search(text)
    return match.group(2) if match else text


def reply_bodies(reply: str) -> list[str]:
    """Return the parts of a reply to look for an answer in, most likely first.

    Thinking sections are dropped; fenced blocks tagged json come first, then the other
    fenced blocks, then the whole text outside fences.
    """
    text = strip_thinking(reply)
    blocks = _FENCE.findall(text)
    tagged = [body for tag, body in blocks if tag.lower() in ('json', 'json5', 'jsonc')]
    others = [body for tag, body in blocks if tag.lower() not in ('json', 'json5', 'jsonc')]
    return [*tagged, *others, _FENCE.sub(' ', text) if blocks else text]


def is_refusal(text: str) -> bool:
    """Return whether the reply declines to answer."""
    head = text.strip().lower()[:200]
    return any(marker in head for marker in REFUSAL_MARKERS)


def _balanced_span(text: str, start: int) -> str | None:
    """Return text[start:end] up to the bracket closing the one at start (quotes respected), or None."""
    pairs = {'[': ']', '{': '}'}
    stack, quote, escaped = [], None, False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == '\\':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in ('"', "'"):
            quote = ch
        elif ch in pairs:
            stack.append(pairs[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
            if not stack:
                return text[start:i + 1]
    return None


def _json_values(text: str):
    """Yield every JSON (or Python-literal, for single-quoted lists) list or object in text, in order."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        starts = [i for i in (text.find('[', position), text.find('{', position)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value, end = _literal_at(text, start)
        if value is None:
            position = start + 1
            continue
        yield value
        position = end


def _literal_at(text: str, start: int):
    span = _balanced_span(text, start)
    if span is None:
        return None, start + 1
    try:
        value = ast.literal_eval(span)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, start + 1
    return (value if isinstance(value, (list, dict)) else None), start + len(span)


def _items_of(value) -> list[str] | None:
    if isinstance(value, dict):
        for key in LIST_KEYS:
            if isinstance(value.get(key), list):
                return _items_of(value[key])
        return None
    if not isinstance(value, list):
        return None
    items = []
    for item in value:
        if isinstance(item, dict):
            item = next((item[k] for k in ITEM_KEYS if isinstance(item.get(k), str)), None)
        if isinstance(item, str):
            items.append(item)
    return items


_BULLET = re.compile(r'^\s*(?:[-*\u2022>]+|\(?\d{1,2}[.):]|[a-zA-Z][.)])\s+')


def _lines_of(text: str) -> list[str]:
    items = []
    for line in text.splitlines():
        line = _BULLET.sub('', line.strip()).strip()
        if not line or line.endswith(':') or line.lower().startswith(PREAMBLE_MARKERS):
            continue
        items.append(line)
    return items


def clean_command(text: str) -> str | None:
    """Return the command tidied (quotes, markdown, trailing punctuation), or None when it is not one."""
    command = re.sub(r'[*_`]+', '', str(text)).strip().strip('"\'').strip()
    command = re.sub(r'\s+', ' ', command).rstrip('.;,!')
    words = command.split()
    if not words or len(words) > MAX_COMMAND_WORDS or len(command) > MAX_COMMAND_CHARS:
        return None
    letters = sum(ch.isalpha() for ch in command)
    if not command[0].isalpha() or letters < 0.6 * len(command.replace(' ', '')):
        return None
    if is_refusal(command) or '://' in command or command.endswith('?'):
        return None
    return command


def parse_commands(reply: str, max_items: int) -> list[str]:
    """Return up to max_items distinct commands found in a VLM reply (JSON, bullets or numbered lines).

    VLMReplyError when nothing usable is in it (empty, refusal, garbage).
    """
    if not isinstance(reply, str) or not reply.strip():
        raise VLMReplyError('the VLM returned an empty reply')
    bodies = reply_bodies(reply)
    raw = next((items for body in bodies for items in map(_items_of, _json_values(body)) if items), None)
    if raw is None:
        body = next((b for b in bodies if b.strip()), bodies[-1])
        raw = _lines_of(body)
        if len(raw) == 1 and ',' in raw[0] and len(raw[0].split()) > MAX_COMMAND_WORDS:
            raw = raw[0].split(',')  # one long comma-separated line
    commands, seen = [], set()
    for item in raw:
        command = clean_command(item)
        if command and command.lower() not in seen:
            seen.add(command.lower())
            commands.append(command)
    if not commands:
        kind = 'a refusal' if is_refusal(reply) else 'no usable command'
        raise VLMReplyError(f'the VLM reply held {kind}: {reply.strip()[:160]!r}')
    return commands[:max_items]


_YES = re.compile(r'^\W*(yes|y|true|success|succeeded|done|completed)\b', re.I)
_NO = re.compile(r'^\W*(no|n|false|failure|failed|not)\b', re.I)


def parse_yes_no(reply: str) -> tuple[bool | None, float | None]:
    """Return (answer or None when unclear, the confidence the reply states or None)."""
    bodies = reply_bodies(reply or '')
    for value in (v for body in bodies for v in _json_values(body)):
        if isinstance(value, dict) and ('success' in value or 'answer' in value):
            answer = value.get('success', value.get('answer'))
            confidence = value.get('confidence')
            if isinstance(answer, str):
                answer = True if _YES.match(answer) else False if _NO.match(answer) else None
            elif not isinstance(answer, bool):
                answer = None
            try:
                confidence = min(1.0, max(0.0, float(confidence))) if confidence is not None else None
            except (TypeError, ValueError):
                confidence = None
            return answer, confidence
    text = next((b for b in bodies if b.strip()), '').strip()
    if _YES.match(text):
        return True, None
    if _NO.match(text):
        return False, None
    return None, None
