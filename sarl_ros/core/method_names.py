"""Names of the prompt-selection methods: importable without torch (launch files, CLIs, parameters)."""

# The method a run uses unless told otherwise (the Q-policy node, sarl-demo, retraining).
DEFAULT_METHOD = 'sarl'
# The paper's SARL and its ablations (each a SarlConfig in sarl_ros.core.sarl.config.SARL_VARIANTS).
SARL_METHODS = ('sarl', 'sarl_nodemo', 'sarl_blind', 'sarl_oracle', 'sarl_textprompt', 'sarl_nopool', 'sarl_e1',
                'sarl_noopt', 'sarl_nobudget', 'sarl_sep_cnn')
# Prompt-selection methods: what the Q-policy node (and so the graph) can run. sarl_text is the first
# learner (text-embedded prompts, fresh samples, one MLP, max target), kept as an ablation.
METHODS = SARL_METHODS + ('sarl_text', 'fixed', 'icl', 'random', 'ucb')
# Action-space RL baselines (DSRL, residual RL): they steer the VLA itself, so they run in the
# benchmark harness only.
ACTION_SPACE_METHODS = ('dsrl', 'residual')
BENCH_METHODS = METHODS + ACTION_SPACE_METHODS
