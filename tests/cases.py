"""Small random problems shared by the tests."""
import numpy as np

import lpgx


def random_model(rng: np.random.Generator, scale: float, batch: int, *shape, **blocks):
    """A ``LinearARModel(*shape, **blocks)`` with weights ``scale``·N(0, 1) and ``batch`` contexts
    N(0, 1), drawn from ``rng`` in that order."""
    m = lpgx.LinearARModel(*shape, **blocks)
    m.w = scale * rng.standard_normal(m.num_params)
    return m, rng.standard_normal((batch, m.context_dim))
