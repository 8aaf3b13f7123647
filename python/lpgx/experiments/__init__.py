"""The paper's experiments with its settings as defaults (``docs/theory.md`` §9), the rate checks of
§7, the estimators of §10 (``docs/estimators.md``), Figure 1 over many seeds (``docs/figure1.md``) and
the open questions (``docs/open_questions.md``). Each ``*_settings()`` lists every setting with its
default."""
from .open_many_answers import ManyAnswersResult, many_answers, many_answers_settings
from .open_noise import NoiseResult, noise, noise_settings
from .open_prm_quality import PRMQualityResult, prm_quality, prm_quality_settings
from .paper_figure1 import Figure1Result, figure1, figure1_settings
from .paper_figure1_algorithms import figure1_algorithms
from .paper_figure1_seeds import Figure1SeedsResult, figure1_seeds
from .paper_figure2 import Figure2Result, figure2, figure2_settings
from .practice_estimators import EstimatorsResult, estimators, estimators_settings
from .rates import (RateResult, lq_barrier, rates_alpha, rates_length, rates_online, rates_settings,
                    rates_sgd)

__all__ = ["EstimatorsResult", "Figure1Result", "Figure1SeedsResult", "Figure2Result", "ManyAnswersResult",
           "NoiseResult", "PRMQualityResult", "RateResult", "estimators", "estimators_settings", "figure1",
           "figure1_algorithms", "figure1_seeds", "figure1_settings", "figure2", "figure2_settings",
           "lq_barrier", "many_answers", "many_answers_settings", "noise", "noise_settings", "prm_quality",
           "prm_quality_settings", "rates_alpha", "rates_length", "rates_online", "rates_settings",
           "rates_sgd"]
