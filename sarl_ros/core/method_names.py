"""Names of the prompt-selection methods: importable without torch (launch files, CLIs, parameters)."""

# Prompt-selection methods: what the Q-policy node (and so the graph) can run.
METHODS = ('sarl', 'fixed', 'icl', 'random', 'sarl_blind', 'sarl_oracle', 'ucb')
# Action-space RL baselines (DSRL, residual RL): they steer the VLA itself, so they run in the
# benchmark harness only.
ACTION_SPACE_METHODS = ('dsrl', 'residual')
BENCH_METHODS = METHODS + ACTION_SPACE_METHODS
