"""lpgx: linear autoregressive policies and policy-gradient post-training, fast and exact.

The theory of Mousavi-Hosseini & Erdogdu, "Post-Training with Policy Gradients: Optimality
and the Base Model Barrier" (arXiv 2603.06957), runnable at full speed.
"""
from . import _core
from .margins import Margins, margins
from .measures import (alpha_tail, coverage, likelihood_quantile, mc_hits, mc_likelihood, pass_at_k,
                       quantile_of_log_values, sequence_error, token_likelihood_quantile)
from .model import BLOCKS, DEFAULT_BLOCKS, LinearARModel
from .sparse_gradient import SparseGradient
from .tasks import TeacherTask
from .behavior import Behavior
from .estimators import GRPO, RLOO, PassAtK, Reinforce
from .optim import SGD, Adagrad, AdaptiveStep
from .rewards import CallableReward, CorrectSet, OutcomeReward, ProcessReward
from .training import TrainResult, pg_step, post_train, pretrain
from . import algorithms, correct_sets, exact, experiments, learned_prm, planted
from .correct_sets import MultiTeacherTask
from .learned_prm import LearnedPRM, learn_prm
from .algorithms import AlgoResult
from .planted import FiniteTask, combination_lock, staircase
from .sweep import SweepResult, sweep

__version__ = _core.__version__


def openmp_enabled() -> bool:
    """Whether the compiled core was built with OpenMP (else every call runs on one thread)."""
    return bool(_core.openmp_enabled())


def max_threads() -> int:
    """The thread count used when ``n_threads=None``."""
    return int(_core.max_threads())


__all__ = [
    "Adagrad", "AdaptiveStep", "Behavior", "CorrectSet", "MultiTeacherTask", "correct_sets", "GRPO", "PassAtK", "RLOO", "Reinforce", "CallableReward", "OutcomeReward", "ProcessReward", "SGD",
    "TrainResult", "pg_step", "post_train", "pretrain", "AlgoResult", "FiniteTask", "algorithms", "exact",
    "combination_lock", "experiments", "planted", "staircase", "SweepResult", "sweep",
    "BLOCKS", "DEFAULT_BLOCKS", "LinearARModel", "Margins", "TeacherTask", "alpha_tail", "coverage",
    "likelihood_quantile", "margins", "max_threads", "mc_hits", "mc_likelihood", "openmp_enabled",
    "pass_at_k", "quantile_of_log_values", "sequence_error", "token_likelihood_quantile",
    "LearnedPRM", "learn_prm", "learned_prm", "SparseGradient",
]
