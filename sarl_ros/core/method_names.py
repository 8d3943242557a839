"""Names of the prompt-selection methods: importable without torch (launch files, CLIs, parameters)."""

METHODS = ('sarl', 'fixed', 'icl', 'random', 'sarl_blind', 'sarl_oracle', 'ucb')
