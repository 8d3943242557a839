"""State features of a real robot for Q_sem, chosen by the executor's `state_featurizer` parameter.

The default (auto) is 'observable' (sarl_ros.core.perception.observable_features): the featurizer the simulated
paper benchmark trains with, so a simulated checkpoint loads on the robot. The older choices stay:
proprioception alone (which cannot tell a grasped object from an empty gripper at the same width),
or proprioception with a coarse colour thumbnail of the camera frame. Privileged simulator state
(the oracle ablation) exists only on the simulator (sarl_ros.sim.state).
"""
from __future__ import annotations

import numpy as np

FEATURIZERS = ('proprio', 'proprio_thumbnail', 'observable')
# The executor's `state_featurizer` choices: these, auto (observable on a robot, the task's default on the
# simulator) and oracle (privileged simulator state, a labelled ablation; simulator only).
STATE_FEATURIZER_CHOICES = ('auto', *FEATURIZERS, 'oracle')


class ProprioFeaturizer:
    """Features = the arm's proprioception (joint and gripper state)."""

    def __init__(self, proprio_dim: int):
        self.proprio_dim = self.dim = int(proprio_dim)

    def features(self, image, proprio, history=()) -> np.ndarray:
        """Return the proprioception as float32 (the executed prompts are not part of this state)."""
        values = np.asarray(proprio, dtype=np.float32).reshape(-1)
        if values.size != self.proprio_dim:
            raise ValueError(f'expected {self.proprio_dim} proprioception values, got {values.size}')
        return values


class ThumbnailFeaturizer(ProprioFeaturizer):
    """Features = proprioception followed by a side x side RGB thumbnail scaled to [0, 1]."""

    def __init__(self, proprio_dim: int, side: int = 8):
        super().__init__(proprio_dim)
        if side <= 0:
            raise ValueError(f'thumbnail side must be positive, got {side}')
        self.side = int(side)
        self.dim = self.proprio_dim + 3 * self.side * self.side

    def features(self, image, proprio, history=()) -> np.ndarray:
        """Return proprioception + thumbnail; a missing frame gives a zero thumbnail (one shape always)."""
        proprio_part = super().features(image, proprio)
        if image is None:
            thumbnail = np.zeros(3 * self.side * self.side, np.float32)
        else:
            frame = np.asarray(image)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f'expected an HxWx3 uint8 RGB frame, got {frame.dtype} {frame.shape}')
            import cv2
            small = cv2.resize(frame, (self.side, self.side), interpolation=cv2.INTER_AREA)
            thumbnail = small.astype(np.float32).reshape(-1) / 255.0
        return np.concatenate([proprio_part, thumbnail])


def make_featurizer(name: str, proprio_dim: int, image_model: str | None = None):
    """Return the featurizer called name (see FEATURIZERS).

    'observable' is the one the simulated paper benchmark trains with (sarl_ros.core.perception.observable_features),
    so a simulated checkpoint loads here; image_model (a transformers vision model name or directory)
    swaps its offline colour-layout image code for a pretrained encoder (a different `dim`: retrain).
    """
    if name == 'observable':
        from sarl_ros.core.perception.image_encoders import PretrainedImageEncoder
        from sarl_ros.core.perception.observable_features import ObservableFeaturizer
        encoder = PretrainedImageEncoder(image_model) if image_model else None
        return ObservableFeaturizer(proprio_dim, image_encoder=encoder)
    if name == 'proprio':
        return ProprioFeaturizer(proprio_dim)
    if name == 'proprio_thumbnail':
        return ThumbnailFeaturizer(proprio_dim)
    if name == 'oracle':
        raise ValueError("state_featurizer:=oracle is privileged simulator state: it exists only with robot:=sim")
    raise ValueError(f'unknown state featurizer {name!r}; choose one of: {", ".join(FEATURIZERS)}')
