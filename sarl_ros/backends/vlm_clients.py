"""Vision-language model clients: an OpenAI-compatible chat endpoint, or a local transformers model.

Both answer `complete(system, text, image) -> str`; the proposer and the success detector
are written against that one method.
"""
from __future__ import annotations

import base64
import io
import logging
import os
import re

import numpy as np


log = logging.getLogger(__name__)


class VLMError(RuntimeError):
    """The VLM could not answer (unreachable, timed out, refused, authentication)."""


def png_data_url(image: np.ndarray, max_side: int | None = None) -> str:
    """Return an RGB image as a base64 PNG data URL, downscaled so its longer side is at most max_side."""
    from PIL import Image
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}')
    pil = Image.fromarray(image)
    if max_side and max(pil.size) > max_side:
        scale = max_side / max(pil.size)
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.BILINEAR)
    buffer = io.BytesIO()
    pil.save(buffer, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


# OpenAI's reasoning models refuse max_tokens (they count hidden reasoning tokens too) and any
# temperature but the default.
REASONING_MODEL = re.compile(r'(^|/)(o\d+|gpt-5)([-.:_]|$)', re.I)


def is_reasoning_model(model: str) -> bool:
    """Return whether an OpenAI model name is one of the reasoning models (o1, o3, o4-mini, gpt-5 ...)."""
    return bool(REASONING_MODEL.search(model))


class OpenAIChatClient:
    """Chat completions of any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama ...) through the openai SDK.

    The API key is read from the environment variable named api_key_env (when a request is
    made: a rotated key is picked up); it never appears in logs, errors or repr. Timeouts and
    retries (connection errors, 408/409/429/5xx, with the SDK's backoff) are the SDK's.
    """

    def __init__(self, base_url: str = 'http://127.0.0.1:8000/v1', model: str = 'gpt-4o',
                 api_key_env: str = 'OPENAI_API_KEY', timeout_s: float = 20.0, retries: int = 1,
                 max_tokens: int = 256, temperature: float = 0.2, image_max_side: int | None = 768):
        if not base_url.startswith(('http://', 'https://')):
            raise ValueError(f'base_url must start with http:// or https://, got {base_url!r}')
        if timeout_s <= 0 or retries < 0:
            raise ValueError(f'need timeout_s > 0 and retries >= 0, got {timeout_s}, {retries}')
        self.base_url = base_url.rstrip('/')
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.image_max_side = image_max_side
        self._sdk = None
        self._sdk_key = None
        if api_key_env and not os.environ.get(api_key_env):
            log.warning('environment variable %s is not set: calling %s without an API key', api_key_env,
                        self.base_url)

    def __repr__(self) -> str:
        return f'OpenAIChatClient(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})'

    def request_body(self, system: str, text: str, image: np.ndarray | None) -> dict:
        """Return the chat-completions arguments for one user turn (text and, when given, the image)."""
        content = [{'type': 'text', 'text': text}]
        if image is not None:
            content.append({'type': 'image_url',
                            'image_url': {'url': png_data_url(image, self.image_max_side)}})
        body = {'model': self.model,
                'messages': [{'role': 'system', 'content': system}, {'role': 'user', 'content': content}]}
        if is_reasoning_model(self.model):
            body['max_completion_tokens'] = self.max_tokens
        else:
            body['max_tokens'] = self.max_tokens
            body['temperature'] = self.temperature
        return body

    def complete(self, system: str, text: str, image: np.ndarray | None) -> str:
        """Return the assistant's reply to one user turn."""
        import openai
        key = os.environ.get(self.api_key_env, '') if self.api_key_env else ''
        try:
            completion = self._client(key).chat.completions.create(**self.request_body(system, text, image))
        except openai.APITimeoutError:
            raise VLMError(f'VLM {self.model!r} at {self.base_url} failed after {self.retries + 1} attempts: '
                           f'timed out ({self.timeout_s} s each)') from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise VLMError(f'{self.base_url}: HTTP {exc.status_code} (authentication): check the key in '
                           f'${self.api_key_env}; {_scrub(str(exc.message), key)}') from None
        except openai.APIStatusError as exc:
            attempts = f' after {self.retries + 1} attempts' if exc.status_code >= 500 or exc.status_code == 429 else ''
            raise VLMError(f'VLM {self.model!r} at {self.base_url} failed{attempts}: HTTP {exc.status_code}: '
                           f'{_scrub(str(exc.message), key)[:300]}') from None
        except openai.APIConnectionError as exc:
            raise VLMError(f'VLM {self.model!r} at {self.base_url} failed after {self.retries + 1} attempts: '
                           f'{_scrub(str(exc), key)}') from None
        return _reply_text(completion.model_dump() if hasattr(completion, 'model_dump') else completion)

    def _client(self, key: str):
        if self._sdk is None or key != self._sdk_key:
            import openai
            # The SDK insists on a key; servers without authentication ignore this placeholder.
            self._sdk = openai.OpenAI(base_url=self.base_url, api_key=key or 'no-key', timeout=self.timeout_s,
                                      max_retries=self.retries)
            self._sdk_key = key
        return self._sdk


def _scrub(text: str, key: str) -> str:
    return text.replace(key, '***') if key else text


def _reply_text(reply: dict) -> str:
    try:
        choice = reply['choices'][0]
        message = choice['message']
    except (KeyError, IndexError, TypeError):
        raise VLMError(f'unexpected chat-completions answer: {str(reply)[:200]}') from None
    if message.get('refusal'):
        raise VLMError(f'the VLM refused: {message["refusal"][:200]}')
    if choice.get('finish_reason') == 'content_filter':
        raise VLMError('the VLM reply was withheld by a content filter')
    content = message.get('content') or ''
    if isinstance(content, list):  # some servers answer with content parts
        content = ''.join(part.get('text', '') for part in content if isinstance(part, dict))
    return str(content)


class HFVisionChat:
    """A local transformers vision-language model (AutoModelForImageTextToText + its processor)."""

    def __init__(self, model: str, device: str = 'auto', dtype: str = 'auto', max_new_tokens: int = 128,
                 trust_remote_code: bool = False):
        import transformers
        from transformers import AutoProcessor

        from sarl_ros.backends.openvla import resolve_device_and_dtype
        self.device, self.dtype = resolve_device_and_dtype(device, dtype)
        auto = getattr(transformers, 'AutoModelForImageTextToText', None) or transformers.AutoModelForVision2Seq
        dtype_kwarg = 'dtype' if hasattr(transformers, 'AutoModelForImageTextToText') else 'torch_dtype'
        try:
            self.processor = AutoProcessor.from_pretrained(model, trust_remote_code=trust_remote_code)
            self.model = auto.from_pretrained(model, trust_remote_code=trust_remote_code,
                                              **{dtype_kwarg: self.dtype}).to(self.device).eval()
        except OSError as exc:
            raise VLMError(f'cannot load the VLM {model!r}: {exc}') from exc
        self.model_id = model
        self.max_new_tokens = int(max_new_tokens)

    def _inputs(self, system: str, text: str, image: np.ndarray | None):
        from PIL import Image
        user = ([{'type': 'image'}] if image is not None else []) + [{'type': 'text', 'text': text}]
        messages = [{'role': 'system', 'content': [{'type': 'text', 'text': system}]},
                    {'role': 'user', 'content': user}]
        if getattr(self.processor, 'chat_template', None):
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:  # a processor without a chat template: the common USER/ASSISTANT layout
            image_token = getattr(self.processor, 'image_token', None) or '<image>'
            prompt = f'{system}\nUSER: {image_token if image is not None else ""}\n{text}\nASSISTANT:'
        images = [Image.fromarray(np.asarray(image, dtype=np.uint8))] if image is not None else None
        inputs = self.processor(text=prompt, images=images, return_tensors='pt')
        return inputs.to(self.device, dtype=self.dtype)

    def complete(self, system: str, text: str, image: np.ndarray | None) -> str:
        """Return the model's greedy reply."""
        import torch
        inputs = self._inputs(system, text, image)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = output[0, inputs['input_ids'].shape[1]:]
        return self.processor.batch_decode(new_tokens[None], skip_special_tokens=True)[0].strip()

    def yes_probability(self, system: str, text: str, image: np.ndarray | None) -> float:
        """Return P(yes) / (P(yes) + P(no)) of the model's first answer token."""
        import torch
        tokenizer = getattr(self.processor, 'tokenizer', self.processor)
        yes_ids = _first_token_ids(tokenizer, ('yes', 'Yes', ' yes', ' Yes'))
        no_ids = _first_token_ids(tokenizer, ('no', 'No', ' no', ' No'))
        if not yes_ids or not no_ids:
            raise VLMError(f'the tokenizer of {self.model_id!r} has no yes/no tokens')
        inputs = self._inputs(system, text + '\nAnswer yes or no.', image)
        with torch.inference_mode():
            logits = self.model(**inputs).logits[0, -1].float()
        probabilities = torch.softmax(logits, dim=-1)
        p_yes, p_no = float(probabilities[yes_ids].sum()), float(probabilities[no_ids].sum())
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5


def _first_token_ids(tokenizer, words) -> list[int]:
    ids = set()
    for word in words:
        encoded = tokenizer.encode(word, add_special_tokens=False)
        if encoded and encoded[0] != getattr(tokenizer, 'unk_token_id', None):
            ids.add(int(encoded[0]))
    return sorted(ids)
