"""The paper's experiments with its settings as defaults (SPEC §9)."""
from .figure1 import Figure1Result, figure1
from .figure2 import Figure2Result, figure2
from .rates import RateResult, lq_barrier, rates_alpha, rates_length, rates_online, rates_sgd

__all__ = ["Figure1Result", "Figure2Result", "RateResult", "figure1", "figure2", "lq_barrier", "rates_alpha",
           "rates_length", "rates_online", "rates_sgd"]
