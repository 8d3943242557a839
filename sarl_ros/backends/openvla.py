"""A local OpenVLA-style VLA: a transformers vision-to-text checkpoint emitting action tokens.

The real OpenVLA checkpoints (`openvla/openvla-7b`) ship remote code whose model has
`predict_action`; it is used when present. Any other vision-to-text checkpoint that encodes
actions the OpenVLA way (last 256 vocabulary ids, norm_stats in its config) runs through the
generic path here: greedy decoding of 7 action tokens, bins, un-normalisation.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from sarl_ros.backends.action_tokens import ACTION_DIM, ActionTokenDecoder, select_action_stats, unnormalize

log = logging.getLogger(__name__)

PROMPT_TEMPLATE = 'In: What action should the robot take to {instruction}?\nOut:'
# OpenVLA v0.1 checkpoints were trained with a Vicuna-style system prompt (deploy.py picks it by "v01" in the path).
V01_SYSTEM_PROMPT = ('A chat between a curious user and an artificial intelligence assistant. '
                     "The assistant gives helpful, detailed, and polite answers to the user's questions.")
V01_PROMPT_TEMPLATE = V01_SYSTEM_PROMPT + ' USER: What action should the robot take to {instruction}? ASSISTANT:'
# OpenVLA's Bridge evaluation feeds 224x224 frames that went through a JPEG round trip (as the RLDS
# training data did) and a lanczos resize.
BRIDGE_IMAGE_SIZE = 224
BRIDGE_JPEG_QUALITY = 95  # tf.image.encode_jpeg's default, what the evaluation uses
# The auto classes under which vision-to-text checkpoints register their remote code: OpenVLA
# names AutoModelForVision2Seq, which transformers 5 no longer has, so it is resolved here.
REMOTE_CODE_AUTO_CLASSES = ('AutoModelForVision2Seq', 'AutoModelForImageTextToText')
DATASET_STATISTICS_FILE = 'dataset_statistics.json'


def format_prompt(instruction: str, model_path: str = '') -> str:
    """Return the OpenVLA prompt for a command (the v0.1 chat prompt when the model path contains "v01")."""
    instruction = ' '.join(str(instruction).split()).lower()
    if not instruction:
        raise ValueError('empty instruction')
    template = V01_PROMPT_TEMPLATE if 'v01' in str(model_path) else PROMPT_TEMPLATE
    return template.format(instruction=instruction)


def prepare_bridge_image(image: np.ndarray, size: int = BRIDGE_IMAGE_SIZE) -> np.ndarray:
    """Return the frame as OpenVLA's Bridge evaluation feeds it: JPEG round trip, then lanczos resize to size x size.

    A frame already size x size is taken as prepared (a client may have done it to save bandwidth).
    """
    import io

    from PIL import Image
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}')
    if image.shape[:2] == (size, size):
        return image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='JPEG', quality=BRIDGE_JPEG_QUALITY)
    decoded = Image.open(io.BytesIO(buffer.getvalue())).convert('RGB')
    return np.asarray(decoded.resize((size, size), Image.LANCZOS))


def resolve_device_and_dtype(device: str = 'auto', dtype: str = 'auto'):
    """Return (torch device string, torch dtype): bf16 on CUDA, float32 on CPU unless told otherwise."""
    import torch
    if device in ('', 'auto'):
        device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(f'vla_device={device!r} but torch sees no CUDA device '
                           f'(torch {torch.__version__}); use vla_device:=cpu or the remote VLA')
    if dtype in ('', 'auto'):
        dtype = 'bfloat16' if device.startswith('cuda') else 'float32'
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f'unknown torch dtype {dtype!r}; use bfloat16, float16 or float32')
    return device, torch_dtype


@dataclass
class LoadedVLA:
    model: Any
    processor: Any
    norm_stats: dict | None
    device: str
    dtype: Any


def load_vla(model_id: str, device: str = 'auto', dtype: str = 'auto',
             attn_implementation: str | None = None) -> LoadedVLA:
    """Load processor and model of a checkpoint (hub id or directory) as OpenVLA is loaded.

    trust_remote_code is on: the OpenVLA checkpoints carry their own model code.
    """
    import transformers
    from transformers import AutoConfig, AutoProcessor
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    device, torch_dtype = resolve_device_and_dtype(device, dtype)
    try:
        config = AutoConfig.from_pretrained(model_id, trust_remote_code=True)
    except OSError as exc:
        raise RuntimeError(f'cannot load VLA checkpoint {model_id!r}: {exc} '
                           f'(offline? HF_HUB_OFFLINE={os.environ.get("HF_HUB_OFFLINE", "")!r})') from exc
    auto_map = getattr(config, 'auto_map', None) or {}
    remote = next((auto_map[name] for name in REMOTE_CODE_AUTO_CLASSES if name in auto_map), None)
    if remote is not None:
        model_class = _with_generate(get_class_from_dynamic_module(remote, model_id))
    else:
        model_class = _auto_vision_to_text_class(transformers)
    # low_cpu_mem_usage as upstream loads OpenVLA (a no-op from transformers 5 on, where it is the only way).
    kwargs = {'config': config, 'trust_remote_code': True, 'low_cpu_mem_usage': True,
              _dtype_kwarg(transformers): torch_dtype}
    if attn_implementation:
        kwargs['attn_implementation'] = attn_implementation
    model = model_class.from_pretrained(model_id, **kwargs).to(device).eval()
    processor = AutoProcessor.from_pretrained(model_id, trust_remote_code=True)
    norm_stats = _norm_stats(model_id, model, config)
    if norm_stats is not None and callable(getattr(model, 'predict_action', None)):
        model.norm_stats = norm_stats  # what predict_action un-normalises with (a fine-tune's own stats)
    log.info('loaded VLA %s (%s) on %s as %s', model_id, type(model).__name__, device, torch_dtype)
    return LoadedVLA(model=model, processor=processor, norm_stats=norm_stats, device=device, dtype=torch_dtype)


def _auto_vision_to_text_class(transformers):
    for name in ('AutoModelForImageTextToText', 'AutoModelForVision2Seq'):
        if hasattr(transformers, name):
            return getattr(transformers, name)
    raise RuntimeError(f'transformers {transformers.__version__} has no vision-to-text auto class')


def _with_generate(model_class):
    # transformers >= 4.50 no longer gives every model `generate`; its auto classes add it back to
    # remote-code models (OpenVLA's predict_action calls generate), and so must a direct load.
    try:
        from transformers.models.auto.auto_factory import add_generation_mixin_to_remote_model
    except ImportError:  # older transformers: PreTrainedModel still has generate
        return model_class
    return add_generation_mixin_to_remote_model(model_class)


def _dtype_kwarg(transformers) -> str:
    # transformers renamed torch_dtype to dtype in 4.56; OpenVLA's remote code wants 4.40.
    major, minor = (int(part) for part in transformers.__version__.split('.')[:2])
    return 'dtype' if (major, minor) >= (4, 56) else 'torch_dtype'


def _norm_stats(model_id: str, model, config) -> dict | None:
    stats_file = os.path.join(model_id, DATASET_STATISTICS_FILE)
    if os.path.isfile(stats_file):  # a fine-tuned OpenVLA directory: its own dataset's statistics
        with open(stats_file, encoding='utf-8') as f:
            return json.load(f)
    return getattr(model, 'norm_stats', None) or getattr(config, 'norm_stats', None)


class OpenVLAPolicy:
    """The VLA interface over a loaded OpenVLA-style checkpoint (stateless between steps)."""

    # Autoregressive: no latent noise to steer, so DSRL refuses it (core.executor.require_latent_noise).
    accepts_noise = False

    def __init__(self, model: str = 'openvla/openvla-7b', device: str = 'auto', dtype: str = 'auto',
                 unnorm_key: str | None = 'bridge_orig', attn_implementation: str | None = None,
                 action_vocab_size: int | None = None, restrict_to_action_tokens: bool = True,
                 image_size: int | None = BRIDGE_IMAGE_SIZE, loaded: LoadedVLA | None = None):
        self.loaded = loaded or load_vla(model, device=device, dtype=dtype, attn_implementation=attn_implementation)
        self.model_id = model
        self.unnorm_key = unnorm_key or None
        self.image_size = image_size  # None: hand frames to the processor unchanged
        self.uses_predict_action = callable(getattr(self.loaded.model, 'predict_action', None))
        self.stats = None
        if not self.uses_predict_action:
            self.stats = select_action_stats(self.loaded.norm_stats, self.unnorm_key)
            if self.stats['q01'].shape != (ACTION_DIM,):
                raise ValueError(f'the statistics under {self.unnorm_key!r} describe {self.stats["q01"].shape} '
                                 f'actions; the executor needs {ACTION_DIM}')
            vocab = action_vocab_size or _base_vocab_size(self.loaded.processor)
            self.decoder = ActionTokenDecoder(vocab)
            self.restrict_to_action_tokens = restrict_to_action_tokens
        elif self.loaded.norm_stats and self.unnorm_key and self.unnorm_key not in self.loaded.norm_stats:
            raise ValueError(f'unnorm_key {self.unnorm_key!r} not in the checkpoint; '
                             f'available: {sorted(self.loaded.norm_stats)}')

    def reset(self) -> None:
        """Start a new prompt (OpenVLA keeps no state between steps)."""

    def skill_done(self) -> bool:
        """Return False: OpenVLA runs until the executor's step budget ends."""
        return False

    def act(self, image: np.ndarray | None, instruction: str, proprio: np.ndarray | None = None,
            unnorm_key: str | None = None) -> np.ndarray:
        """Return the 7-D action (dx dy dz droll dpitch dyaw gripper) for the image and command.

        unnorm_key overrides the constructor's for this call (the policy server passes the client's).
        """
        import torch
        pil_image = _to_pil(image, self.image_size)
        prompt = format_prompt(instruction, self.model_id)
        key = unnorm_key or self.unnorm_key
        with torch.inference_mode():
            if self.uses_predict_action:
                action = self.loaded.model.predict_action(**self._inputs(prompt, pil_image), unnorm_key=key,
                                                          do_sample=False)
            else:
                stats = self.stats if key == self.unnorm_key else select_action_stats(self.loaded.norm_stats, key)
                action = unnormalize(self.decoder.normalized(self._generate_action_tokens(prompt, pil_image)), stats)
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f'the VLA produced {action.shape[0]} action values, expected {ACTION_DIM}')
        return action

    def _inputs(self, prompt: str, pil_image):
        processor = self.loaded.processor
        image_token = getattr(processor, 'image_token', None)
        if image_token and image_token not in prompt:  # LLaVA-style processors place the image by a token
            prompt = f'{image_token}\n{prompt}'
        # Keywords: OpenVLA's processor takes (text, images), transformers' own (images, text).
        inputs = processor(text=prompt, images=pil_image, return_tensors='pt')
        return inputs.to(self.loaded.device, dtype=self.loaded.dtype)

    def _generate_action_tokens(self, prompt: str, pil_image) -> np.ndarray:
        model = self.loaded.model
        inputs = self._inputs(prompt, pil_image)
        kwargs = {'max_new_tokens': ACTION_DIM, 'min_new_tokens': ACTION_DIM, 'do_sample': False}
        if self.restrict_to_action_tokens:
            kwargs['logits_processor'] = _action_token_mask(*self.decoder.token_range)
        output = model.generate(**inputs, **kwargs)
        sequence = output[0] if not hasattr(output, 'sequences') else output.sequences[0]
        prompt_length = 0 if model.config.is_encoder_decoder else inputs['input_ids'].shape[1]
        new_tokens = sequence[prompt_length:].detach().cpu().numpy()[-ACTION_DIM:]
        if new_tokens.shape[0] != ACTION_DIM:
            raise RuntimeError(f'the model generated {new_tokens.shape[0]} tokens, expected {ACTION_DIM}')
        return new_tokens


def _base_vocab_size(processor) -> int:
    # OpenVLA counts action ids down from the tokenizer's base vocabulary, before added tokens
    # and before the embedding matrix is padded.
    tokenizer = getattr(processor, 'tokenizer', processor)
    return int(tokenizer.vocab_size)


def _action_token_mask(first: int, end: int):
    """Return a logits processor list that allows only the action token ids [first, end)."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class OnlyActionTokens(LogitsProcessor):
        def __call__(self, input_ids, scores):
            masked = torch.full_like(scores, float('-inf'))
            masked[:, first:end] = scores[:, first:end]
            return masked

    return LogitsProcessorList([OnlyActionTokens()])


def _to_pil(image: np.ndarray | None, size: int | None):
    from PIL import Image
    if image is None:
        raise ValueError('the OpenVLA backend needs a camera image (is the camera node publishing?)')
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}')
    if size:
        image = prepare_bridge_image(image, size)
    return Image.fromarray(image).convert('RGB')
