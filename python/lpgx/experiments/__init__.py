"""The paper's experiments with its settings as defaults (SPEC §9)."""
from .figure1 import Figure1Result, figure1
from .figure2 import Figure2Result, figure2

__all__ = ["Figure1Result", "Figure2Result", "figure1", "figure2"]
