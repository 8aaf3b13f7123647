"""
lpgx compiled core (private; use the lpgx package)
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['AlgoConfig', 'AlgoKind', 'Behavior', 'BehaviorKind', 'Optimizer', 'OptimizerKind', 'RewardKind', 'RewardSpec', 'TrainConfig', 'count_matches', 'draw_inputs', 'grad_log_prob', 'greedy', 'learn_from', 'margin_gaps', 'max_threads', 'num_params', 'openmp_enabled', 'run_algorithm', 'sample', 'token_log_prob', 'train']
class RewardKind:
    """
    Members:
    
      none
    
      outcome
    
      process
    """
    __members__: typing.ClassVar[dict[str, RewardKind]]
    none: typing.ClassVar[RewardKind]
    outcome: typing.ClassVar[RewardKind]
    process: typing.ClassVar[RewardKind]
    @typing.overload
    def __eq__(self, other: RewardKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: RewardKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class RewardSpec:
    external: bool
    kind: RewardKind
    def __init__(self) -> None:
        ...
    @property
    def flip_prob(self) -> float:
        ...
    @flip_prob.setter
    def flip_prob(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def neg(self) -> float:
        ...
    @neg.setter
    def neg(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def pos(self) -> float:
        ...
    @pos.setter
    def pos(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class BehaviorKind:
    """
    Members:
    
      on_policy
    
      frozen
    
      uniform
    
      eps_mixture
    
      base_uniform_seq
    
      base_uniform_token
    
      best_of_m
    
      teacher_forcing
    """
    __members__: typing.ClassVar[dict[str, BehaviorKind]]
    base_uniform_seq: typing.ClassVar[BehaviorKind]
    base_uniform_token: typing.ClassVar[BehaviorKind]
    best_of_m: typing.ClassVar[BehaviorKind]
    eps_mixture: typing.ClassVar[BehaviorKind]
    frozen: typing.ClassVar[BehaviorKind]
    on_policy: typing.ClassVar[BehaviorKind]
    teacher_forcing: typing.ClassVar[BehaviorKind]
    uniform: typing.ClassVar[BehaviorKind]
    @typing.overload
    def __eq__(self, other: BehaviorKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: BehaviorKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class Behavior:
    kind: BehaviorKind
    def __init__(self) -> None:
        ...
    @property
    def eps(self) -> float:
        ...
    @eps.setter
    def eps(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def m(self) -> int:
        ...
    @m.setter
    def m(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class OptimizerKind:
    """
    Members:
    
      adagrad
    
      sgd
    
      adaptive
    """
    __members__: typing.ClassVar[dict[str, OptimizerKind]]
    adagrad: typing.ClassVar[OptimizerKind]
    adaptive: typing.ClassVar[OptimizerKind]
    sgd: typing.ClassVar[OptimizerKind]
    @typing.overload
    def __eq__(self, other: OptimizerKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: OptimizerKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class Optimizer:
    kind: OptimizerKind
    mean_loss: bool
    def __init__(self) -> None:
        ...
    @property
    def a(self) -> float:
        ...
    @a.setter
    def a(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def b(self) -> float:
        ...
    @b.setter
    def b(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def eps(self) -> float:
        ...
    @eps.setter
    def eps(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def lr(self) -> float:
        ...
    @lr.setter
    def lr(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class TrainConfig:
    baseline: bool
    behavior: Behavior
    fuse: bool
    optimizer: Optimizer
    reward: RewardSpec
    def __init__(self) -> None:
        ...
    @property
    def batch(self) -> int:
        ...
    @batch.setter
    def batch(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def steps(self) -> int:
        ...
    @steps.setter
    def steps(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def test_every(self) -> int:
        ...
    @test_every.setter
    def test_every(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def track_every(self) -> int:
        ...
    @track_every.setter
    def track_every(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class AlgoKind:
    """
    Members:
    
      sgd
    
      pg_outcome
    
      pg_outcome_multi
    
      pg_process
    
      online
    """
    __members__: typing.ClassVar[dict[str, AlgoKind]]
    online: typing.ClassVar[AlgoKind]
    pg_outcome: typing.ClassVar[AlgoKind]
    pg_outcome_multi: typing.ClassVar[AlgoKind]
    pg_process: typing.ClassVar[AlgoKind]
    sgd: typing.ClassVar[AlgoKind]
    @typing.overload
    def __eq__(self, other: AlgoKind) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: AlgoKind) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class AlgoConfig:
    kind: AlgoKind
    optimizer: Optimizer
    resample: bool
    def __init__(self) -> None:
        ...
    @property
    def eval_every(self) -> int:
        ...
    @eval_every.setter
    def eval_every(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def m(self) -> int:
        ...
    @m.setter
    def m(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def mix(self) -> float:
        ...
    @mix.setter
    def mix(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def random_iterate(self) -> int:
        ...
    @random_iterate.setter
    def random_iterate(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def steps(self) -> int:
        ...
    @steps.setter
    def steps(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def target_log_lik(self) -> float:
        ...
    @target_log_lik.setter
    def target_log_lik(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
def _exp_nonpositive(x: numpy.typing.NDArray[numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
    ...
def count_matches(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], y: numpy.typing.NDArray[numpy.int32], n_samples: typing.SupportsInt | typing.SupportsIndex, key: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    ...
def draw_inputs(kind: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, num_mix: typing.SupportsInt | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, key: typing.SupportsInt | typing.SupportsIndex, stream0: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int32]]:
    ...
def grad_log_prob(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], y: numpy.typing.NDArray[numpy.int32], weights: numpy.typing.NDArray[numpy.float64] | None, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    ...
def greedy(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int32]:
    ...
def learn_from(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], opt_state: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], ystar: numpy.typing.NDArray[numpy.int32], y: numpy.typing.NDArray[numpy.int32], cfg: TrainConfig, noise_key: typing.SupportsInt | typing.SupportsIndex, reward_fn: typing.Any) -> tuple[float, int]:
    ...
def margin_gaps(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], y: numpy.typing.NDArray[numpy.int32], n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    ...
def max_threads() -> int:
    ...
def num_params(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def openmp_enabled() -> bool:
    ...
def run_algorithm(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], task_kind: typing.SupportsInt | typing.SupportsIndex, num_mix: typing.SupportsInt | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, teacher_blocks: typing.SupportsInt | typing.SupportsIndex | None, teacher_w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_mass: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_y: typing.Annotated[numpy.typing.ArrayLike, numpy.int32] | None, base_blocks: typing.SupportsInt | typing.SupportsIndex | None, base_w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, cfg: AlgoConfig, eval_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, eval_y: typing.Annotated[numpy.typing.ArrayLike, numpy.int32] | None, w_snapshot: numpy.typing.NDArray[numpy.float64], done: numpy.typing.NDArray[numpy.int64], progress: typing.Any, records: dict[str, typing.Any]) -> None:
    ...
def sample(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], key: typing.SupportsInt | typing.SupportsIndex, stream0: typing.SupportsInt | typing.SupportsIndex, with_logp: bool, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float64]]:
    ...
def token_log_prob(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], x: numpy.typing.NDArray[numpy.float64], y: numpy.typing.NDArray[numpy.int32], n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def train(k: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, d: typing.SupportsInt | typing.SupportsIndex, blocks: typing.SupportsInt | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], opt_state: numpy.typing.NDArray[numpy.float64], task_kind: typing.SupportsInt | typing.SupportsIndex, num_mix: typing.SupportsInt | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, teacher_blocks: typing.SupportsInt | typing.SupportsIndex | None, teacher_w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_mass: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, finite_y: typing.Annotated[numpy.typing.ArrayLike, numpy.int32] | None, base_blocks: typing.SupportsInt | typing.SupportsIndex | None, base_w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, cfg: TrainConfig, track_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, track_y: typing.Annotated[numpy.typing.ArrayLike, numpy.int32] | None, track_out: numpy.typing.NDArray[numpy.float64], test_x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, test_y: typing.Annotated[numpy.typing.ArrayLike, numpy.int32] | None, test_out: numpy.typing.NDArray[numpy.float64], mean_reward: numpy.typing.NDArray[numpy.float64], success: numpy.typing.NDArray[numpy.float64], queries: numpy.typing.NDArray[numpy.int64], done: numpy.typing.NDArray[numpy.int64], s0: typing.SupportsInt | typing.SupportsIndex, reward_fn: typing.Any, progress: typing.Any) -> None:
    ...
__version__: str = '0.1.0'
