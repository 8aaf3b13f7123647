"""The paper's experiments with its settings as defaults (``docs/theory.md`` §9), and the
rate checks of §7. ``figure1_settings()``, ``figure2_settings()`` and
``rates_settings(name)`` list every setting with its default."""
from .paper_figure1 import Figure1Result, figure1, figure1_settings
from .paper_figure2 import Figure2Result, figure2, figure2_settings
from .rates import (RateResult, lq_barrier, rates_alpha, rates_length, rates_online, rates_settings,
                    rates_sgd)

__all__ = ["Figure1Result", "Figure2Result", "RateResult", "figure1", "figure1_settings", "figure2",
           "figure2_settings", "lq_barrier", "rates_alpha", "rates_length", "rates_online", "rates_settings",
           "rates_sgd"]

# The estimators of docs/theory.md §10 at equal query budgets (estimators_settings() lists the settings).
from .practice_estimators import EstimatorsResult, estimators, estimators_settings  # noqa: E402

__all__ += ["EstimatorsResult", "estimators", "estimators_settings"]

# Figure 1 over many seeds, through lpgx.sweep: bootstrap intervals, equal-query axes, the theory's
# algorithms at matched budgets and the barrier map (docs/figure1.md).
from .paper_figure1_algorithms import figure1_algorithms  # noqa: E402
from .paper_figure1_seeds import Figure1SeedsResult, figure1_seeds  # noqa: E402

__all__ += ["Figure1SeedsResult", "figure1_algorithms", "figure1_seeds"]
