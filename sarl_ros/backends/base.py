"""The backend interfaces, now defined in sarl_ros.core.interfaces (kept importable from here)."""
from sarl_ros.core.interfaces import (ACTION_DIM, VLA, ApplyResult, Camera, Robot, StateFeaturizer,  # noqa: F401
                                      SuccessDetector)
