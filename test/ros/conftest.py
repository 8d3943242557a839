import os
import sys

# Helper modules beside these tests (message_samples) import by plain name, here and in
# the peer processes the tests start.
sys.path.insert(0, os.path.dirname(__file__))
