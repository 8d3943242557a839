"""SarlConfig: every setting of the paper's SARL learner, declared once with its type, default and meaning.

Each field carries its help text and allowed range in `metadata`, so a bench flag, a node parameter or a
--help line can be derived from it (`config_fields`). The named variants (`SARL_VARIANTS`) are the
method names the benchmark, the demo and the Q-policy node accept: the paper build and its ablations.
Defaults follow the paper's appendix (../shared/sarl-paper-facts.md) where it gives a value; where it
does not, or where this CPU cannot afford it, the field's help says what was chosen and why.
"""
from __future__ import annotations

from dataclasses import dataclass

from sarl_ros.core.config import Config, register_config, setting

PROMPT_INPUTS = ('one_hot', 'text')
STATE_INPUTS = ('auto', 'camera', 'vector')
TARGET_REDUCTIONS = ('min', 'mean')


@register_config('method', 'sarl')
@dataclass(frozen=True)
class SarlConfig(Config):
    # --- what Q_sem sees -------------------------------------------------------------------------
    prompt_input: str = setting('one_hot', 'prompt identity in the instruction pool (paper) or its text embedding',
                                choices=PROMPT_INPUTS)
    pool_capacity: int = setting(32, 'instruction pool size K: new VLM proposals join until full, then it is frozen '
                                 '(paper: sim 32; real 64 / 100 / 32 / 32)', low=2, high=4096)
    state_input: str = setting('auto', "camera: proprioception + the frame's pixels through a CNN; vector: the whole "
                               'feature vector through the MLP (privileged or toy states); auto: camera when the '
                               'features have the observable layout', choices=STATE_INPUTS)
    budget_feature: bool = setting(True, 'decisions left / budget as an input, with finite-horizon targets '
                                   '(a truncated step does not bootstrap)')
    # --- network ----------------------------------------------------------------------------------
    ensemble: int = setting(10, 'Q networks in the ensemble (paper: 10)', low=1, high=64)
    shared_encoder: bool = setting(True, 'one CNN shared by the ensemble heads (7x cheaper per update on this CPU '
                                   'than 10 CNNs; the ablation runs 10)')
    hidden: int = setting(128, 'width of the 3-layer MLP head (paper: 128)', low=8, high=4096)
    image_features: int = setting(64, 'size of the CNN image code', low=4, high=4096)
    q_init: float = setting(1.0, 'initial Q of every prompt (optimistic: untried prompts get tried; 0 turns it off)',
                            low=0.0, high=10.0)
    # --- learning ---------------------------------------------------------------------------------
    gamma: float = setting(0.0, 'discount; 0: 1 - 1/H with H the episode decision budget (paper)', low=0.0, high=1.0)
    target_reduction: str = setting('min', 'how the ensemble of target nets is combined (paper: min)',
                                    choices=TARGET_REDUCTIONS)
    lr: float = setting(1e-3, 'Adam learning rate', low=1e-6, high=1.0)
    batch_size: int = setting(64, 'TD batch (64: ~4x cheaper than 256 on this CPU)', low=1, high=4096)
    tau: float = setting(0.05, 'Polyak factor of the target nets', low=1e-4, high=1.0)
    updates_per_decision: int = setting(4, 'TD updates after every stored transition', low=0, high=256)
    replay_capacity: int = setting(50_000, 'replay size in transitions', low=1, high=10_000_000)
    # --- acting -----------------------------------------------------------------------------------
    temperature: float = setting(0.2, 'softmax temperature T at the start', low=1e-4, high=100.0)
    temperature_final: float = setting(0.01, 'temperature the schedule decays to', low=1e-4, high=100.0)
    temperature_halflife: float = setting(10.0, 'half-life of the temperature decay, in learning episodes (0: final at '
                                          'once)', low=0.0, high=1e6)
    count_bonus: float = setting(0.0, 'exploration bonus c / sqrt(1 + n) per (decision step, prompt) tried n times '
                                 '(0: off)', low=0.0, high=10.0)
    # --- prior experience --------------------------------------------------------------------------
    demonstrations: int = setting(3, 'language-guided demonstration episodes before online learning (paper: 3)',
                                  low=0, high=1000)
    # --- which states the policy is given (an ablation knob, not a learner setting) ------------------
    blind: bool = setting(False, 'zero every state feature (a state-blind bandit over prompts: an ablation)')

    def __post_init__(self):
        super().__post_init__()
        if self.temperature_final > self.temperature:
            raise ValueError(f'temperature_final {self.temperature_final} exceeds temperature {self.temperature}')


def config_fields() -> list[tuple[str, object, str]]:
    """Return (name, default, help) of every SarlConfig field, for --help texts and parameter tables."""
    return [(spec.name, spec.default, spec.help) for spec in SarlConfig.settings()]


# The method names of the paper build and its ablations, each one SarlConfig (pre-registered in
# docs/results/sarl_paper/PROTOCOL.md before any of them ran on the benchmark tasks).
SARL_VARIANTS: dict[str, SarlConfig] = {
    'sarl': SarlConfig(),
    'sarl_nodemo': SarlConfig(demonstrations=0),
    'sarl_blind': SarlConfig(blind=True),
    'sarl_oracle': SarlConfig(state_input='vector'),
    'sarl_textprompt': SarlConfig(prompt_input='text'),
    'sarl_nopool': SarlConfig(pool_capacity=1024),  # never fills: the VLM proposes freely all run
    'sarl_e1': SarlConfig(ensemble=1),
    'sarl_noopt': SarlConfig(q_init=0.0),
    'sarl_nobudget': SarlConfig(budget_feature=False),
    'sarl_sep_cnn': SarlConfig(shared_encoder=False),
}
