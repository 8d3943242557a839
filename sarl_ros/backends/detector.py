"""Success detection by asking a VLM a yes/no question about the final image."""
from __future__ import annotations

from sarl_ros.backends.vlm_replies import DETECTOR_SYSTEM, detector_prompt, parse_yes_no


class VLMSuccessDetector:
    """SuccessDetector over a VLM client.

    A client with `yes_probability` (the local transformers VLM) is scored from its yes/no
    token probabilities; otherwise the text reply is parsed. Answers less confident than
    min_confidence, or unclear, are undecided (None) so the human or nobody decides.
    """

    def __init__(self, client, min_confidence: float = 0.6, stated_confidence_default: float = 0.75,
                 use_token_probabilities: bool = True):
        if not 0.5 <= min_confidence <= 1.0:
            raise ValueError(f'min_confidence must be in [0.5, 1], got {min_confidence}')
        self.client = client
        self.min_confidence = float(min_confidence)
        # A text reply that says yes/no without a confidence is taken as this sure.
        self.stated_confidence_default = float(stated_confidence_default)
        self.use_token_probabilities = use_token_probabilities and hasattr(client, 'yes_probability')

    def evaluate(self, image, task: str, request=None) -> tuple[bool | None, float]:
        """Return (success, or None when the VLM is unsure or there is no image; confidence 0..1).

        request (the EvaluateEpisode request the reward node forwards) is not needed.
        """
        if image is None:
            return None, 0.0
        if self.use_token_probabilities:
            p_yes = float(self.client.yes_probability(DETECTOR_SYSTEM, detector_prompt(task), image))
            success, confidence = p_yes >= 0.5, max(p_yes, 1.0 - p_yes)
        else:
            success, stated = parse_yes_no(self.client.complete(DETECTOR_SYSTEM, detector_prompt(task), image))
            if success is None:
                return None, 0.0
            confidence = self.stated_confidence_default if stated is None else stated
            if stated is not None and stated < 0.5:  # "yes, confidence 0.2" reads as an unsure answer
                return None, stated
        if confidence < self.min_confidence:
            return None, confidence
        return success, confidence


def make_vlm_detector(backend: str = 'openai', base_url: str = 'http://127.0.0.1:8000/v1', model: str = 'gpt-4o',
                      api_key_env: str = 'OPENAI_API_KEY', timeout_s: float = 20.0, min_confidence: float = 0.6,
                      device: str = 'auto', **client_kw) -> VLMSuccessDetector:
    """Return a detector over an OpenAI-compatible endpoint (backend 'openai') or a local model ('hf_vlm')."""
    from sarl_ros.backends.vlm_clients import HFVisionChat, OpenAIChatClient
    if backend == 'openai':
        client = OpenAIChatClient(base_url=base_url, model=model, api_key_env=api_key_env, timeout_s=timeout_s,
                                  max_tokens=64, temperature=0.0, **client_kw)
    elif backend == 'hf_vlm':
        client = HFVisionChat(model, device=device, **client_kw)
    else:
        raise ValueError(f'unknown detector VLM backend {backend!r}; choose one of [\'hf_vlm\', \'openai\']')
    return VLMSuccessDetector(client, min_confidence=min_confidence)
