"""Q_sem's state on a real robot: the one observable featurizer, with a choice of image encoder.

The featurizer is the one the simulated paper benchmark trains with (sarl_ros.core.perception.
observable_features.ObservableFeaturizer: proprioception, an image code, the executed prompts, the
frame's pixels), so a simulated checkpoint loads on the robot. What a lab may change is the image
code (the executor's `image_encoder` parameter): the offline colour layout (default, what the
simulated benchmark trains with), a plain thumbnail, or a pretrained vision model (`image_model`: a
transformers model name or directory). Another image code changes the state's size: retrain.
Privileged simulator state (the oracle ablation) exists only on the simulator (sarl_ros.sim.state).
"""
from __future__ import annotations

from sarl_ros.core.perception.image_encoders import DEFAULT_IMAGE_ENCODER, IMAGE_ENCODERS, make_image_encoder

FEATURIZERS = ('observable',)
# The executor's `state_featurizer` choices: these, auto (observable on a robot, the task's default on the
# simulator) and oracle (privileged simulator state, a labelled ablation; simulator only).
STATE_FEATURIZER_CHOICES = ('auto', *FEATURIZERS, 'oracle')


def make_featurizer(name: str, proprio_dim: int, image_encoder: str = DEFAULT_IMAGE_ENCODER, image_model: str = ''):
    """Return the observable featurizer with the named image encoder (see IMAGE_ENCODERS)."""
    if name == 'oracle':
        raise ValueError("state_featurizer:=oracle is privileged simulator state: it exists only with robot:=sim")
    if name not in FEATURIZERS:
        raise ValueError(f'unknown state featurizer {name!r}; choose one of: {", ".join(FEATURIZERS)}')
    if image_encoder not in IMAGE_ENCODERS:
        raise ValueError(f'unknown image encoder {image_encoder!r}; choose one of: {", ".join(IMAGE_ENCODERS)}')
    if image_encoder == 'pretrained' and not image_model:
        raise ValueError('image_encoder:=pretrained needs image_model (a transformers vision model name or directory)')
    from sarl_ros.core.perception.observable_features import ObservableFeaturizer
    options = {'model': image_model} if image_encoder == 'pretrained' else {}
    return ObservableFeaturizer(proprio_dim, image_encoder=make_image_encoder(image_encoder, **options))
