"""Shared setup for the benchmark tests: one torch thread."""
import torch

torch.set_num_threads(1)
