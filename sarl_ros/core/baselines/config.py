"""BaselineConfig: the settings every baseline shares, declared once for the whole family.

Each baseline's registered config (simple.py, sarl_text.py, action_rl.py) derives from it; the paper's
SARL has its own (sarl_ros.core.sarl.config.SarlConfig), whose temperature schedule and discount differ.
"""
from __future__ import annotations

from dataclasses import dataclass

from sarl_ros.core.config import Config, setting


@dataclass(frozen=True)
class BaselineConfig(Config):
    temperature: float = setting(0.2, 'softmax temperature T of sampling methods (reported by the others)',
                                 low=1e-4, high=100.0)
    gamma: float = setting(0.9, 'discount per decision step', low=0.0, high=1.0)
