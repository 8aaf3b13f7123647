"""Synthetic tasks: the authors' teacher generator (docs/theory.md §2).

Teacher W1* ~ N(0,1)^{k×d}, W2* ~ N(0,1)^{k×k}; the correct response y*(x) is the teacher's
greedy decoding. Inputs are Rademacher or a noisy mixture on the sphere of radius √d.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _core, _rng
from . import _validate as v
from .margins import margins
from .model import LinearARModel

INPUTS = ("rademacher", "mixture")


class TeacherTask:
    """Contexts x with correct responses y*(x) = greedy decoding of a random teacher.

    Parameters
    ----------
    context_dim, vocab_size, seq_len : int
        d, k, N.
    inputs : {"rademacher", "mixture"}
        ``rademacher``: x uniform on {±1}^d. ``mixture``: means m_j = e_{j mod d} (j < M);
        x = m_j + noise (‖noise‖ ≤ σ), rescaled to norm √d.
    num_mix, sigma : int, float
        M and σ of the mixture.
    rng : int, Generator, SeedSequence or None
        Draws the teacher.
    teacher_blocks : sequence of str
        ``("context", "prev_token")`` (the authors' teacher) or ``("context",)``: then
        y*_i = argmax_c (W1* x)_c at every position, a task whose margin does not depend on N.
    """

    def __init__(self, context_dim: int, vocab_size: int, seq_len: int, inputs: str = "rademacher",
                 num_mix: int = 32, sigma: float = 0.05, rng: _rng.RNGLike = None,
                 teacher_blocks: Sequence[str] = ("context", "prev_token")) -> None:
        self.context_dim = v.positive_int(context_dim, "context_dim")
        self.vocab_size = v.positive_int(vocab_size, "vocab_size")
        self.seq_len = v.positive_int(seq_len, "seq_len")
        self.inputs = v.option(inputs, "inputs", INPUTS)
        self.num_mix = v.positive_int(num_mix, "num_mix")
        self.sigma = v.finite_float(sigma, "sigma", 0.0)
        gen = _rng.generator(rng)
        d, k = self.context_dim, self.vocab_size
        v.check_bytes(8.0 * 2 * (k * d + k * k), "the teacher's weights")
        w1_star = gen.standard_normal((k, d))  # the paper's W1* is k×d
        w2_star = gen.standard_normal((k, k))
        if tuple(teacher_blocks) not in (("context", "prev_token"), ("context",)):
            raise ValueError(f"teacher_blocks must be ('context', 'prev_token') or ('context',), got {teacher_blocks!r}")
        self.teacher = LinearARModel(k, self.seq_len, d, blocks=teacher_blocks)
        self.teacher.block("context")[:] = w1_star.T
        if "prev_token" in self.teacher.blocks:
            self.teacher.block("prev_token")[:] = w2_star
        self._h = _core.Task.generated(self.input_kind, self.num_mix, self.sigma, self.teacher._h)

    @property
    def input_kind(self) -> int:
        return INPUTS.index(self.inputs)

    def sample_inputs(self, n: int, rng: _rng.RNGLike = None, n_threads: Optional[int] = None
                      ) -> Tuple[np.ndarray, np.ndarray]:
        """n contexts and their mixture components (-1 for Rademacher inputs)."""
        n = v.positive_int(n, "n")
        v.check_bytes(8.0 * n * self.context_dim, "the contexts")
        x, comp = self._h.draw_inputs(n, _rng.key(rng), v.n_threads(n_threads))
        return x, comp

    def correct(self, x: Any, n_threads: Optional[int] = None) -> np.ndarray:
        """y*(x): the teacher's greedy decoding, (B, N)."""
        return self.teacher.greedy(x, n_threads=n_threads)

    def sample(self, n: int, rng: _rng.RNGLike = None, min_margin: Optional[float] = None,
               n_threads: Optional[int] = None, max_draws: int = 10_000_000
               ) -> Tuple[np.ndarray, np.ndarray]:
        """n i.i.d. pairs (x, y*(x)).

        With ``min_margin=γ`` keeps only samples whose teacher margin is ≥ γ (docs/theory.md §3),
        drawing in rounds; raises ValueError when the acceptance rate observed would need
        more than ``max_draws`` candidates."""
        n = v.positive_int(n, "n")
        gen = _rng.generator(rng)
        if min_margin is None:
            x, _ = self.sample_inputs(n, gen, n_threads)
            return x, self.correct(x, n_threads)
        gamma = v.finite_float(min_margin, "min_margin")
        xs, ys, kept, drawn = [], [], 0, 0
        batch = max(n, 1024)
        while kept < n:
            x, _ = self.sample_inputs(batch, gen, n_threads)
            y = self.correct(x, n_threads)
            ok = margins(self.teacher, x, y, n_threads).margin >= gamma
            drawn += batch
            kept += int(ok.sum())
            xs.append(x[ok])
            ys.append(y[ok])
            rate = kept / drawn
            if kept < n and (rate == 0 and drawn >= 100_000 or rate > 0 and n / rate > max_draws):
                raise ValueError(
                    f"min_margin={gamma}: only {kept} of {drawn} samples have margin >= {gamma}; "
                    f"{n} samples would need about {n / max(rate, 1e-300):.3g} draws (max_draws={max_draws})")
            batch = min(1 << 18, max(1024, int(1.2 * (n - kept) / max(rate, 1e-3))))
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]

    def centres(self) -> Tuple[np.ndarray, np.ndarray]:
        """The mixture centres m_j·√d/‖m_j‖ (M, d) and their correct responses (M, N)."""
        if self.inputs != "mixture":
            raise ValueError("centres() needs inputs='mixture'")
        d = self.context_dim
        x = np.zeros((self.num_mix, d))
        x[np.arange(self.num_mix), np.arange(self.num_mix) % d] = np.sqrt(d)
        return x, self.correct(x)

    def __getstate__(self) -> Dict[str, Any]:
        return {k: val for k, val in self.__dict__.items() if k != "_h"}  # the handle is rebuilt

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._h = _core.Task.generated(self.input_kind, self.num_mix, self.sigma, self.teacher._h)

    def config(self) -> Dict[str, Any]:
        return {"context_dim": self.context_dim, "vocab_size": self.vocab_size, "seq_len": self.seq_len,
                "inputs": self.inputs, "num_mix": self.num_mix, "sigma": self.sigma,
                "teacher_blocks": list(self.teacher.blocks)}

    def __repr__(self) -> str:
        return "TeacherTask(" + ", ".join(f"{k}={val!r}" for k, val in self.config().items()) + ")"


def check_task(task: Any, model: LinearARModel) -> Any:
    """A task (an lpgx task: it carries the engine's task handle) whose sizes match the model's."""
    if not isinstance(getattr(task, "_h", None), _core.Task):
        raise TypeError(f"task must be an lpgx task (e.g. lpgx.TeacherTask), got {type(task).__name__}")
    if (task.vocab_size, task.seq_len, task.context_dim) != model.shape:
        raise ValueError(f"task has (vocab_size, seq_len, context_dim) = "
                         f"{(task.vocab_size, task.seq_len, task.context_dim)}, the model {model.shape}")
    return task


# The planted instances live in planted.py; they are tasks too.
from .planted import FiniteTask, combination_lock, staircase  # noqa: E402,F401
