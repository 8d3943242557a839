"""Vision-language model clients: an OpenAI-compatible chat endpoint, or a local transformers model.

Both answer `complete(system, text, image) -> str`; the proposer and the success detector
are written against that one method.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request

import numpy as np

from sarl_ros.backends.retry import TRANSIENT_ERRORS, backoff_delay, describe_failure

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


class OpenAIChatClient:
    """POST /chat/completions of any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama ...).

    The API key is read from the environment variable named api_key_env when a request is
    made; it never appears in logs, errors or repr.
    """

    def __init__(self, base_url: str = 'http://127.0.0.1:8000/v1', model: str = 'gpt-4o',
                 api_key_env: str = 'OPENAI_API_KEY', timeout_s: float = 20.0, retries: int = 1,
                 max_tokens: int = 256, temperature: float = 0.2, image_max_side: int | None = 768,
                 backoff_s: float = 0.5):
        if not base_url.startswith(('http://', 'https://')):
            raise ValueError(f'base_url must start with http:// or https://, got {base_url!r}')
        if timeout_s <= 0:
            raise ValueError(f'timeout_s must be positive, got {timeout_s}')
        self.base_url = base_url.rstrip('/')
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.image_max_side = image_max_side
        self.backoff_s = backoff_s
        if api_key_env and not os.environ.get(api_key_env):
            log.warning('environment variable %s is not set: calling %s without an API key', api_key_env,
                        self.base_url)

    def __repr__(self) -> str:
        return f'OpenAIChatClient(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})'

    def complete(self, system: str, text: str, image: np.ndarray | None) -> str:
        """Return the assistant's reply to one user turn (text and, when given, the image)."""
        content = [{'type': 'text', 'text': text}]
        if image is not None:
            content.append({'type': 'image_url',
                            'image_url': {'url': png_data_url(image, self.image_max_side)}})
        body = {'model': self.model, 'max_tokens': self.max_tokens, 'temperature': self.temperature,
                'messages': [{'role': 'system', 'content': system}, {'role': 'user', 'content': content}]}
        reply = self._post('/chat/completions', body)
        return _reply_text(reply)

    def _post(self, path: str, body: dict) -> dict:
        headers = {'Content-Type': 'application/json'}
        key = os.environ.get(self.api_key_env, '') if self.api_key_env else ''
        if key:
            headers['Authorization'] = f'Bearer {key}'
        data = json.dumps(body).encode('utf-8')
        last_error = ''
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(backoff_delay(self.backoff_s, attempt))
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method='POST')
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                detail = _scrub(_http_detail(exc), key)
                if exc.code in (401, 403):
                    raise VLMError(f'{self.base_url}: HTTP {exc.code} (authentication): check the key in '
                                   f'${self.api_key_env}; {detail}') from None
                if exc.code != 429 and exc.code < 500:
                    raise VLMError(f'{self.base_url}{path}: HTTP {exc.code}: {detail}') from None
                last_error = f'HTTP {exc.code}: {detail}'
            except json.JSONDecodeError as exc:
                raise VLMError(f'{self.base_url}{path} answered with invalid JSON: {exc}') from None
            except TRANSIENT_ERRORS as exc:
                last_error = describe_failure(exc)
            log.warning('VLM call to %s failed (attempt %d of %d): %s', self.base_url, attempt + 1,
                        self.retries + 1, last_error)
        raise VLMError(f'VLM {self.model!r} at {self.base_url} failed after {self.retries + 1} attempts '
                       f'(timeout {self.timeout_s} s): {last_error}')


def _http_detail(exc) -> str:
    try:
        return exc.read().decode('utf-8', 'replace')[:300]
    except Exception:  # noqa: BLE001 - best effort
        return str(exc.reason)


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
