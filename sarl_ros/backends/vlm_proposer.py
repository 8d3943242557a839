"""The VLM proposer: candidate commands for the scene from a vision-language model.

The whole task text is always one candidate (source 'task'), first, so a VLM that proposes
nothing useful still leaves the policy the plain instruction; a reply with no usable VLM
command raises, so the node falls back to its cached candidates for the task.
"""
from __future__ import annotations

import logging
from typing import Sequence

from sarl_ros.backends.vlm_replies import (DEFAULT_VOCABULARY, PROPOSER_SYSTEM, VLMReplyError, parse_commands,
                                           pool_prompt, proposer_prompt)
from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.mdp import SOURCE_TASK, SOURCE_VLM, Candidate, Observation

log = logging.getLogger(__name__)


class VLMProposer:
    """PromptProposer over any client with `complete(system, text, image) -> str`."""

    def __init__(self, client, vocabulary: Sequence[str] = DEFAULT_VOCABULARY, max_history: int = 8):
        self.client = client
        self.vocabulary = tuple(vocabulary)
        self.max_history = int(max_history)

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        """Return the task as a candidate followed by up to max_candidates - 1 VLM commands."""
        if max_candidates < 1:
            raise ValueError(f'max_candidates must be at least 1, got {max_candidates}')
        task = ' '.join(str(task).split())
        if not task:
            raise ValueError('empty task')
        task_candidate = Candidate(prompt=task, source=SOURCE_TASK, vlm_score=0.0)
        wanted = max_candidates - 1
        if wanted == 0:
            return [task_candidate]
        recent = list(history)[-self.max_history:]
        reply = self.client.complete(PROPOSER_SYSTEM, proposer_prompt(task, recent, wanted, self.vocabulary),
                                     observation.image)
        commands = parse_commands(reply, wanted)
        # The VLM lists its best first: a falling score the in-context baseline can read.
        return [task_candidate] + [Candidate(prompt=c, source=SOURCE_VLM, vlm_score=1.0 - i / len(commands))
                                   for i, c in enumerate(commands)]

    def choose_from_pool(self, observation: Observation, task: str, history: Sequence[str], pool: Sequence[str],
                         max_candidates: int) -> list[Candidate]:
        """Return the task and up to max_candidates - 1 commands the VLM chose from a frozen instruction pool.

        The pool is listed in the prompt; a reply is mapped back by exact match (after normalisation:
        case, spaces, trailing punctuation). A reply outside the pool is dropped and logged, never executed.
        """
        task = ' '.join(str(task).split())
        task_candidate = Candidate(prompt=task, source=SOURCE_TASK, vlm_score=0.0)
        wanted = max_candidates - 1
        offered = [p for p in pool if normalize_prompt(p) != normalize_prompt(task)]
        if wanted < 1 or not offered:
            return [task_candidate]
        recent = list(history)[-self.max_history:]
        reply = self.client.complete(PROPOSER_SYSTEM, pool_prompt(task, recent, wanted, offered), observation.image)
        known = {normalize_prompt(p): p for p in offered}
        chosen = []
        for command in parse_commands(reply, len(offered)):
            match = known.get(normalize_prompt(command))
            if match is None:
                log.warning('the VLM chose %r, which is not in the instruction pool: dropped', command[:120])
            elif match not in chosen:
                chosen.append(match)
        if not chosen:
            raise VLMReplyError('the VLM chose no command of the instruction pool')
        chosen = chosen[:wanted]
        return [task_candidate] + [Candidate(prompt=c, source=SOURCE_VLM, vlm_score=1.0 - i / len(chosen))
                                   for i, c in enumerate(chosen)]


def make_openai_proposer(base_url: str = 'http://127.0.0.1:8000/v1', model: str = 'gpt-4o',
                         api_key_env: str = 'OPENAI_API_KEY', timeout_s: float = 20.0,
                         vocabulary: Sequence[str] = DEFAULT_VOCABULARY, **client_kw) -> VLMProposer:
    """Return a proposer over an OpenAI-compatible chat endpoint."""
    from sarl_ros.backends.vlm_clients import OpenAIChatClient
    client = OpenAIChatClient(base_url=base_url, model=model, api_key_env=api_key_env, timeout_s=timeout_s,
                              **client_kw)
    return VLMProposer(client, vocabulary=vocabulary)


def make_hf_proposer(model: str, device: str = 'auto', dtype: str = 'auto', max_new_tokens: int = 128,
                     vocabulary: Sequence[str] = DEFAULT_VOCABULARY, timeout_s: float | None = None,
                     trust_remote_code: bool = False) -> VLMProposer:
    """Return a proposer over a local transformers VLM (timeout_s is accepted and unused: it runs in-process)."""
    from sarl_ros.backends.vlm_clients import HFVisionChat
    client = HFVisionChat(model, device=device, dtype=dtype, max_new_tokens=max_new_tokens,
                          trust_remote_code=trust_remote_code)
    return VLMProposer(client, vocabulary=vocabulary)
