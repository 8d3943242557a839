"""Small models and test doubles shared by the backend tests (not a test module)."""
from __future__ import annotations

import numpy as np


class TinyTorchVLA:
    """A real torch network mapping (image, instruction) to a 7-D action; finishes after `steps_per_skill`."""

    def __init__(self, seed: int = 0, steps_per_skill: int = 3):
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.torch = torch
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, kernel_size=5, stride=4), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16 + 1, 7))
        self.steps_per_skill = steps_per_skill
        self.steps = 0
        self.resets = 0

    def reset(self):
        self.steps = 0
        self.resets += 1

    def act(self, image, instruction, proprio):
        torch = self.torch
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        features = self.net[:4](pixels)
        text = torch.tensor([[float(len(instruction))]])
        with torch.no_grad():
            action = torch.tanh(self.net[4](torch.cat([features, text], dim=1)))[0]
        self.steps += 1
        return action.numpy().astype(np.float64)

    def skill_done(self):
        return self.steps >= self.steps_per_skill


# --- a tiny randomly initialised LLaVA-style vision-to-text checkpoint --------------------------

VOCAB_WORDS = ('in : what action should the robot take to ? out put pick up place sushi pot cup drawer open close '
               'move gripper left right yes no the on of a and').split()
BASE_VOCAB = 320  # the last 256 ids are OpenVLA's action tokens
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
                 "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
                 "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
BRIDGE_STATS = {'bridge_orig': {'action': {
    'q01': [-0.03, -0.04, -0.02, -0.2, -0.15, -0.25, 0.0],
    'q99': [0.03, 0.04, 0.05, 0.2, 0.15, 0.25, 1.0],
    'mask': [True, True, True, True, True, True, False]}}}
REMOTE_MODEL_CODE = '''
import numpy as np
from transformers import LlavaForConditionalGeneration


class TinyOpenVLA(LlavaForConditionalGeneration):
    """Stands for OpenVLA's remote code: a model class with predict_action."""

    def predict_action(self, input_ids=None, unnorm_key=None, **kwargs):
        stats = self.config.norm_stats[unnorm_key]["action"]
        self.last_call = {"unnorm_key": unnorm_key, "prompt_length": int(input_ids.shape[1]),
                          "has_pixels": "pixel_values" in kwargs, "do_sample": kwargs.get("do_sample")}
        return (np.asarray(stats["q01"]) + np.asarray(stats["q99"])) / 2
'''


def build_tiny_vision_to_text(directory, norm_stats=BRIDGE_STATS, remote_code=False, seed=0):
    """Save a random LLaVA (CLIP vision tower + Llama text model, ~100k parameters) with its processor."""
    import json
    import os

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)
    torch.manual_seed(seed)
    vocab = {token: i for i, token in enumerate(['<unk>', '<s>', '</s>', '<pad>', *VOCAB_WORDS])}
    while len(vocab) < BASE_VOCAB:
        vocab[f'tok{len(vocab)}'] = len(vocab)
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token='<unk>', bos_token='<s>',
                                        eos_token='</s>', pad_token='<pad>')
    tokenizer.add_special_tokens({'additional_special_tokens': ['<image>']})
    image_processor = CLIPImageProcessor(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy='default', num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=32, patch_size=8),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                max_position_embeddings=512),
        image_token_index=tokenizer.convert_tokens_to_ids('<image>'),
        vision_feature_select_strategy='default', vision_feature_layer=-1)
    if norm_stats is not None:
        config.norm_stats = norm_stats
    LlavaForConditionalGeneration(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    if remote_code:
        with open(os.path.join(directory, 'modeling_tiny_openvla.py'), 'w', encoding='utf-8') as f:
            f.write(REMOTE_MODEL_CODE)
        path = os.path.join(directory, 'config.json')
        with open(path, encoding='utf-8') as f:
            saved = json.load(f)
        # What OpenVLA's config.json says: its model class is remote code under AutoModelForVision2Seq.
        saved['auto_map'] = {'AutoModelForVision2Seq': 'modeling_tiny_openvla.TinyOpenVLA'}
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(saved, f)
    return str(directory)
