import itertools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the reference module beside the tests

BLOCKS = ("context", "prev_token", "position", "context_position", "bias")
ALL_BLOCK_SETS = [c for r in range(1, 6) for c in itertools.combinations(BLOCKS, r)]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
