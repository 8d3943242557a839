"""Recording tests: synthetic SARL streams, in-process nodes (the `ros` fixture), bags in tmp_path."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # recording_helpers.py beside the tests
