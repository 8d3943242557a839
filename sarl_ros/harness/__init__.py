"""Benchmark of prompt-selection methods: toy semantic MDPs, the harness, plots and the sarl-bench command."""
