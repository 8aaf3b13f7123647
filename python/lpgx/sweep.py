"""Parameter sweeps: a function over a grid × seeds, in parallel, cached cell by cell.

``sweep(fn, grid, seeds)`` calls ``fn(**params, seed=seed)`` for every cell of the
Cartesian product of ``grid`` and ``seeds``, on local processes (joblib/loky), threads,
this process, a Dask cluster or a Ray cluster. With ``cache_dir`` every cell is written to
its own JSON file the moment it finishes, so an interrupted or failed sweep resumes where it
stopped: a re-run loads the finished cells and computes only the missing ones. The files
are keyed by ``fn`` by value (its code and the values it holds), params and seed.
"""
from __future__ import annotations

import dis
import functools
import hashlib
import itertools
import json
import numbers
import operator
import os
import pickle
import signal
import threading
import time
import traceback
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from ._io import atomic_write
from ._optional import require

BACKENDS = ("loky", "threading", "sequential", "dask", "ray")
CACHE_FORMAT = 2

Scalar = Union[None, bool, int, float, str]
Row = Dict[str, Any]


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns.

    Attributes
    ----------
    rows : list of dict
        One dict per cell, in cell order (grid order, then seeds): the cell's parameters,
        ``"seed"`` and the keys ``fn`` returned.
    computed : int
        Cells computed by this call.
    cached : int
        Cells loaded from ``cache_dir`` instead of being computed.
    seconds : float
        Wall-clock time of the call.
    """

    rows: List[Row]
    computed: int
    cached: int
    seconds: float

    def columns(self) -> List[str]:
        """Column names: every key of every row, in first-seen order."""
        seen: Dict[str, None] = {}
        for row in self.rows:
            for name in row:
                seen.setdefault(name, None)
        return list(seen)

    def to_pandas(self) -> Any:
        """The rows as a :class:`pandas.DataFrame` (one row per cell, in cell order).

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        pd = require("pandas")
        return pd.DataFrame(self.rows, columns=self.columns())

    def table(self) -> Any:
        """A :class:`pandas.DataFrame` if pandas is installed, else a dict column -> numpy array.

        A column missing from some rows holds ``None`` there (object dtype without pandas).
        """
        try:
            return self.to_pandas()
        except ImportError:
            return {name: _column([row.get(name) for row in self.rows]) for name in self.columns()}

    def groupby_mean(self, keys: Union[str, Sequence[str]], value: str) -> Any:
        """Mean of ``value`` over the rows sharing ``keys`` (typically: averaged over seeds).

        Parameters
        ----------
        keys : str or sequence of str
            Grouping columns, e.g. ``"seq_len"`` or ``["seq_len", "lr"]``.
        value : str
            The column to average (NaN propagates: no NaN skipping).

        Returns
        -------
        pandas.DataFrame or dict of numpy arrays
            Like :meth:`table`: columns ``keys``, then ``value`` (the mean) and ``"count"``,
            one row per distinct key, in first-seen order.
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        columns = self.columns()
        for name in keys + [value]:
            if name not in columns:
                raise KeyError(f"groupby_mean: no column {name!r}; the columns are {columns}")
        if value in keys or "count" in keys:
            raise ValueError(f"groupby_mean: value {value!r} and 'count' must not be grouping keys")
        groups: Dict[str, Tuple[Tuple[Any, ...], List[Any]]] = {}
        for row in self.rows:
            group = tuple(row.get(k) for k in keys)
            groups.setdefault(_canonical(list(group)), (group, []))[1].append(row.get(value))
        out: Dict[str, Any] = {k: _column([g[i] for g, _ in groups.values()]) for i, k in enumerate(keys)}
        try:
            out[value] = np.array([np.mean(np.asarray(vals, dtype=np.float64)) for _, vals in groups.values()])
        except (TypeError, ValueError):
            raise TypeError(f"groupby_mean: column {value!r} is not numeric") from None
        out["count"] = np.array([len(vals) for _, vals in groups.values()], dtype=np.int64)
        try:
            pd = require("pandas")
        except ImportError:
            return out
        return pd.DataFrame(out)


def _column(values: List[Any]) -> np.ndarray:
    if any(v is None or isinstance(v, (list, dict, tuple)) for v in values):
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    return np.asarray(values)


# --------------------------------------------------------------------------------------------
# Validation and canonical forms


def _canonical(obj: Any) -> str:
    """The canonical JSON of ``obj`` (sorted keys, no spaces); TypeError if not JSON-able."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True,
                      default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _plain(value: Any) -> Any:
    """numpy scalars (and 0-d arrays) -> the Python scalar; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_grid(grid: Any) -> Tuple[List[str], List[List[Any]]]:
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a dict name -> list of values, got {type(grid).__name__}")
    names, values = [], []
    for name, vals in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"grid keys must be parameter names (str), got {name!r}")
        if name == "seed":
            raise ValueError("grid must not contain 'seed': seeds are given by the seeds argument")
        if isinstance(vals, (str, bytes, Mapping, set, frozenset)) or not isinstance(vals, Iterable):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {type(vals).__name__}")
        vals = [_plain(v) for v in vals]
        if not vals:
            raise ValueError(f"grid[{name!r}] is empty: give at least one value")
        seen = set()
        for v in vals:
            try:
                c = _canonical(v)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"grid[{name!r}] holds {v!r}, which is not JSON-serialisable ({exc})") from None
            if c in seen:
                raise ValueError(f"grid[{name!r}] holds {v!r} twice")
            seen.add(c)
        names.append(name)
        values.append(vals)
    return names, values


def _check_seeds(seeds: Any) -> List[int]:
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an iterable of ints such as (0,) or range(5), got {type(seeds).__name__}")
    out = []
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (numbers.Integral, np.integer)):
            raise TypeError(f"seeds must hold ints, got {s!r}")
        out.append(operator.index(s))
    if not out:
        raise ValueError("seeds is empty: give at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds holds duplicates: {out}")
    return out


def _check_count(value: Any, name: str, allow_none: bool) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be a positive integer{' or None' if allow_none else ''}, "
                        f"got {type(value).__name__}")
    count = int(operator.index(value))
    if count < 1:
        raise ValueError(f"{name} must be >= 1, got {count}")
    return count


def _fn_name(fn: Callable[..., Any]) -> str:
    """module.qualname of ``fn``, for people reading the cache files (the key is :func:`function_key`)."""
    if isinstance(fn, functools.partial):
        return f"functools.partial({_fn_name(fn.func)}, ...)"
    qualname = getattr(fn, "__qualname__", None)
    if qualname is None:  # a callable instance
        qualname = type(fn).__qualname__
        module = type(fn).__module__
    else:
        module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{qualname}"


def _cell_text(params: Mapping[str, Any], seed: int) -> str:
    return ", ".join([f"{k}={v!r}" for k, v in params.items()] + [f"seed={seed}"])


def _clean_result(result: Any, params: Mapping[str, Any], seed: int) -> Dict[str, Scalar]:
    """Check that a cell's result is a dict of JSON scalars; numpy scalars become Python ones."""
    where = f"sweep cell ({_cell_text(params, seed)})"
    if not isinstance(result, Mapping):
        raise TypeError(f"fn must return a dict of scalars; {where} returned {type(result).__name__}")
    out: Dict[str, Scalar] = {}
    for key, value in result.items():
        if not isinstance(key, str):
            raise TypeError(f"fn must return a dict with str keys; {where} returned the key {key!r}")
        if key == "seed" or key in params:
            raise ValueError(f"fn returned the key {key!r}, which is also a grid parameter or 'seed' "
                             f"({where}): rename it")
        value = _plain(value)
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise TypeError(f"fn must return JSON-serialisable scalars (float, int, str, bool, None); "
                            f"{where} returned {key}={value!r} of type {type(value).__name__}")
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# The function's part of the cache key: fn by value, so that two functions never share cells


class _KeyContext:
    """State shared by the hashers of one key: digests of the functions met so far, and the
    functions being hashed (a function reached again inside itself is a recursion)."""

    def __init__(self) -> None:
        self.digests: Dict[int, Tuple[Any, str]] = {}  # id -> (the function, kept alive; digest)
        self.active: List[int] = []


class _Unhashable(TypeError):
    """A part of fn that cannot be hashed, with where it is."""

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(f"{where} cannot be hashed ({type(cause).__name__}: {cause})")


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, numpy arrays (not of objects) and containers of them: the module-level
    data a function's result may depend on, hashed by value."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return True
    if isinstance(value, np.ndarray):
        return not value.dtype.hasobject
    if depth >= 8:
        return False
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


def _global_names(code: types.CodeType) -> Set[str]:
    """The global names that ``code`` (or code nested in it) reads."""
    names = {str(ins.argval) for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _code_parts(code: types.CodeType) -> Tuple[Any, ...]:
    """What ``code`` does: bytecode, constants (nested code included), names and signature; not
    its file or line numbers, so comments and moves keep the key (Python versions may not)."""
    consts = tuple(_code_parts(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return ("code", code.co_name, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
            code.co_flags, code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars)


@functools.lru_cache(maxsize=None)
def _hasher_type() -> Any:
    """joblib's hasher (arrays by their bytes; dicts and sets in an order of their own, not
    PYTHONHASHSEED's), made to see functions by value, and frozensets in a fixed order too."""
    hashing = require("joblib.hashing")

    class FunctionHasher(hashing.NumpyHasher):  # type: ignore[misc, name-defined, unused-ignore]
        def __init__(self, context: _KeyContext) -> None:
            super().__init__(hash_name="sha256")
            self.context = context

        def save(self, obj: Any) -> None:
            if isinstance(obj, types.FunctionType):
                obj = ("function", _function_digest(obj, self.context))
            elif isinstance(obj, types.MethodType):  # joblib's own rule drops the method's code
                obj = ("method", obj.__func__, obj.__self__)
            elif isinstance(obj, type):  # classes by name (pickle's rule fails for local ones)
                obj = ("class", obj.__module__, obj.__qualname__)
            elif isinstance(obj, types.ModuleType):
                obj = ("module", obj.__name__)
            elif isinstance(obj, types.CodeType):
                obj = _code_parts(obj)
            elif isinstance(obj, frozenset):  # joblib orders sets, not frozensets (PYTHONHASHSEED)
                try:
                    items = sorted(obj)
                except TypeError:
                    items = sorted(obj, key=lambda v: _digest(v, self.context))
                obj = ("frozenset", tuple(items))
            else:
                call = getattr(type(obj), "__call__", None)
                if isinstance(call, types.FunctionType):  # a callable instance: its __call__'s code too
                    self._hash.update(_function_digest(call, self.context).encode())
            super().save(obj)

    return FunctionHasher


def _digest(obj: Any, context: _KeyContext) -> str:
    return str(_hasher_type()(context).hash(obj))


def _function_digest(fn: types.FunctionType, context: _KeyContext) -> str:
    """SHA-256 of a Python function: its name, code, defaults, captured values and the globals it
    reads that are plain data or functions of its own module (those by value, recursively)."""
    key = id(fn)
    if key in context.active:
        return f"recursion {context.active.index(key)}"
    known = context.digests.get(key)
    if known is not None:
        return known[1]
    module = getattr(fn, "__module__", None)
    parts: List[Tuple[str, Any]] = [
        ("name", (module, fn.__qualname__)), ("code", _code_parts(fn.__code__)),
        ("defaults", fn.__defaults__), ("keyword defaults", fn.__kwdefaults__)]
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            parts.append((f"captured variable {name!r}", cell.cell_contents))
        except ValueError:  # not assigned yet
            parts.append((f"unassigned captured variable {name!r}", None))
    for name in sorted(_global_names(fn.__code__)):
        if name in fn.__globals__:
            value = fn.__globals__[name]
            if _is_plain(value) or (isinstance(value, types.FunctionType) and value.__module__ == module):
                parts.append((f"global {name!r}", value))
    context.active.append(key)
    try:
        digests = []
        for where, value in parts:
            try:
                digests.append((where, _digest(value, context)))
            except _Unhashable:
                raise
            except Exception as exc:
                raise _Unhashable(f"the {where} of {fn.__qualname__}", exc) from exc
    finally:
        context.active.pop()
    digest = _digest(digests, context)
    context.digests[key] = (fn, digest)
    return digest


def function_key(fn: Callable[..., Any]) -> str:
    """The SHA-256 (hex) that stands for ``fn`` in :func:`cache_key`: ``fn`` by value.

    A Python function is seen by its module, qualified name, bytecode and constants, default
    values, the values it captures (closures) and the globals it reads that are plain data
    (numbers, strings, numpy arrays and containers of them) or functions of its own module
    (recursively, the same way). A ``functools.partial`` is seen by its function and
    arguments, a bound method by its function and instance, a callable instance by its state
    (as pickled) and its ``__call__``. Values are hashed as :func:`joblib.hash` does (numpy
    arrays by their bytes); classes, modules and the functions of other modules (libraries,
    lpgx itself) by name only: after changing those, use a fresh cache folder.

    So two closures of one factory over different values, two lambdas, or partials over
    different arrays have different keys; editing the function, a helper of its module that it
    calls or a constant it reads changes the key; comments and blank lines do not. The key is
    the same in every process (no ids or addresses) running the same Python version.

    Raises
    ------
    TypeError
        If a value ``fn`` holds cannot be pickled (a lock, an open file): the message names it.
    ImportError
        If joblib is not installed.
    """
    try:
        return _digest(fn, _KeyContext())
    except _Unhashable as exc:
        raise TypeError(f"fn: no cache key for {_fn_name(fn)}: {exc}. With cache_dir, the values fn "
                        f"holds must be picklable (or sweep without cache_dir)") from None
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(f"fn: no cache key for {_fn_name(fn)}: {type(exc).__name__}: {exc}. With "
                        f"cache_dir, the values fn holds must be picklable (or sweep without "
                        f"cache_dir)") from None


# --------------------------------------------------------------------------------------------
# The cache


def cache_key(fn: Callable[..., Any], params: Mapping[str, Any], seed: int) -> str:
    """The name (without ``.json``) of a cell's file in ``cache_dir``: the SHA-256 of the canonical
    JSON of ``{"fn": function_key(fn), "params": params, "seed": seed}``."""
    return _cell_key(function_key(fn), params, seed)


def _cell_key(fn_key: str, params: Mapping[str, Any], seed: int) -> str:
    return hashlib.sha256(_canonical({"fn": fn_key, "params": dict(params), "seed": seed}).encode()).hexdigest()


def _load_cached(path: Path, fn_key: str, params: Mapping[str, Any], seed: int) -> Optional[Dict[str, Scalar]]:
    """The stored result, or None (missing, or corrupt: then with a warning)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problem = str(exc)
    else:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if (data.get("fn_key") != fn_key or data.get("seed") != seed
                    or _canonical(data.get("params")) != _canonical(dict(params))):
                raise ValueError("it belongs to another cell")
            return _clean_result(data["result"], params, seed)
        except (ValueError, KeyError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            problem = str(exc)
    warnings.warn(f"sweep: ignoring the corrupt cache file {path} ({problem}); recomputing the cell "
                  f"({_cell_text(params, seed)})", RuntimeWarning, stacklevel=3)
    return None


def _store(path: Path, fn_name: str, fn_key: str, params: Mapping[str, Any], seed: int,
           result: Mapping[str, Scalar], seconds: float) -> None:
    record = {"format": CACHE_FORMAT, "fn": fn_name, "fn_key": fn_key, "params": dict(params), "seed": seed,
              "result": dict(result), "seconds": seconds}
    text = json.dumps(record, indent=1, allow_nan=True, default=_json_default) + "\n"
    atomic_write(path, lambda f: f.write(text), mode="w")


# --------------------------------------------------------------------------------------------
# Running the cells


class _RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in another process."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def _call(fn: Callable[..., Any], params: Dict[str, Any], seed: int) -> Any:
    try:
        return fn(**params, seed=seed)
    except BaseException as exc:
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"in lpgx.sweep cell ({_cell_text(params, seed)})")
        raise


def _run_cell(fn: Callable[..., Any], index: int, params: Dict[str, Any], seed: int
              ) -> Tuple[int, bool, Any, float]:
    """Runs in the worker: ``(index, ok, result or (exception, traceback text), seconds)``.

    A failure comes back as a value, not raised: joblib would then drop the results that
    finished just before it instead of handing them over to be cached (and Ray would wrap it)."""
    t0 = time.perf_counter()
    try:
        result = _call(fn, params, seed)
    except (Exception, KeyboardInterrupt) as exc:
        return index, False, (exc, traceback.format_exc()), time.perf_counter() - t0
    return index, True, result, time.perf_counter() - t0


def _sequential_results(fn: Callable[..., Any], todo: List[Tuple[int, Dict[str, Any], int]]
                        ) -> Iterator[Tuple[int, bool, Any, float]]:
    for i, params, seed in todo:
        t0 = time.perf_counter()
        result = _call(fn, params, seed)  # raises in place, with its traceback
        yield i, True, result, time.perf_counter() - t0


def _joblib_results(fn: Callable[..., Any], todo: List[Tuple[int, Dict[str, Any], int]], backend: str,
                    n_jobs: Optional[int], threads_per_worker: int, client: Any
                    ) -> Iterator[Tuple[int, bool, Any, float]]:
    joblib = require("joblib")
    config: Dict[str, Any] = {"backend": backend}
    if backend in ("loky", "threading"):
        n = joblib.cpu_count() if n_jobs is None else n_jobs
        n = max(1, min(n, len(todo)))
        if backend == "loky":
            config["inner_max_num_threads"] = threads_per_worker
    else:  # dask
        n = -1 if n_jobs is None else n_jobs
        require("distributed")
        if client is None:
            import distributed
            try:
                client = distributed.get_client()
            except ValueError:
                raise ValueError("backend='dask' needs a dask.distributed Client: pass client=..., or "
                                 "create one first (distributed.Client(...) becomes the default)") from None
        config["client"] = client
    tasks = (joblib.delayed(_run_cell)(fn, i, params, seed) for i, params, seed in todo)
    with joblib.parallel_config(**config):
        # batch_size=1: each cell comes back (and is cached) the moment it finishes.
        try:
            parallel = joblib.Parallel(n_jobs=n, batch_size=1, return_as="generator_unordered")
        except ValueError:  # joblib < 1.4: in cell order, still as they finish
            parallel = joblib.Parallel(n_jobs=n, batch_size=1, return_as="generator")
        results = parallel(tasks)
        try:
            for output in results:  # not `yield from`: it would close `results` outside the filter below
                yield output
        finally:
            with warnings.catch_warnings():  # joblib's "N tasks ... have been cancelled"
                warnings.filterwarnings("ignore", message=r".*still being processed by the workers")
                results.close()  # on an error or Ctrl-C: stop the remaining cells


def _ray_results(fn: Callable[..., Any], todo: List[Tuple[int, Dict[str, Any], int]], n_jobs: Optional[int],
                 threads_per_worker: int) -> Iterator[Tuple[int, bool, Any, float]]:
    """Cells as Ray tasks, handed over as each finishes (``ray.wait``), at most ``n_jobs`` at once.

    Ray's own API, not joblib's Ray backend: that backend cannot hand results over as they
    finish. On an error or Ctrl-C the remaining cells are cancelled before this returns."""
    ray = require("ray")
    if not ray.is_initialized():
        ray.init()  # the cluster at RAY_ADDRESS, else a new local one
    # each cell reserves its OpenMP threads' cores; the variable is read when a worker starts,
    # and Ray keeps the workers of each environment apart
    run = ray.remote(_run_cell).options(num_cpus=threads_per_worker, runtime_env={
        "env_vars": {"OMP_NUM_THREADS": str(threads_per_worker)}})
    fn_ref = ray.put(fn)  # sent once, not with every cell
    window = len(todo) if n_jobs is None else n_jobs
    queue = iter(todo)
    pending: List[Any] = []
    with _SigintBetweenCalls() as sigint:
        try:
            while True:
                for i, params, seed in itertools.islice(queue, window - len(pending)):
                    pending.append(run.remote(fn_ref, i, params, seed))
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1, timeout=0.1)
                sigint.deliver()
                if done:
                    yield ray.get(done[0])
        finally:
            _ray_cancel(ray, pending)


def _ray_cancel(ray: Any, pending: List[Any]) -> None:
    """Cancel Ray tasks and wait until none runs: queued ones are dropped, running ones get a
    KeyboardInterrupt; those still running 5 s later are killed with their worker."""
    for force in (False, True):
        if not pending:
            return
        for ref in pending:
            ray.cancel(ref, force=force)
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=5.0)


class _SigintBetweenCalls:
    """Holds Ctrl-C back while Ray's blocking calls run and hands it to the previous handler
    between them: a KeyboardInterrupt raised inside ``ray.wait`` can make Ray's core worker
    abort the process ("Tried to complete task that was not pending", Ray 2.60), which would
    lose the traceback (and a notebook's kernel)."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.received = False

    def __enter__(self) -> "_SigintBetweenCalls":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # not SIG_IGN or SIG_DFL: those stay as they are
                self.previous = previous
                signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.received = True

    def deliver(self) -> None:
        if self.received:
            self.received = False
            self.previous(signal.SIGINT, None)  # by default: raises KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if exc[0] is None:
                self.deliver()


def sweep(fn: Callable[..., Mapping[str, Any]], grid: Mapping[str, Sequence[Any]], seeds: Iterable[int] = (0,),
          backend: str = "loky", n_jobs: Optional[int] = None, cache_dir: Union[None, str, "os.PathLike[str]"] = None,
          progress: bool = True, threads_per_worker: int = 1, client: Any = None) -> SweepResult:
    """Run ``fn(**params, seed=seed)`` over every cell of ``grid`` × ``seeds``.

    Parameters
    ----------
    fn : callable
        Called as ``fn(**params, seed=seed)``; it returns a dict of JSON-serialisable scalars
        (float, int, str, bool, None; numpy scalars are converted). Its keys must differ from
        the grid names and ``"seed"``. The process, Dask and Ray backends send it to their
        workers (cloudpickle: closures and lambdas too; a module-level function by name, so
        its module must be importable there).
    grid : dict
        Parameter name -> list of JSON-serialisable values. The cells are the Cartesian
        product of the value lists (first name outermost) times ``seeds`` (innermost).
        ``{}`` sweeps over the seeds only.
    seeds : iterable of int
        Distinct seeds, passed as ``seed=``.
    backend : {"loky", "threading", "sequential", "dask", "ray"}
        ``"loky"``: local worker processes (joblib); ``"threading"``: threads of this process
        (the C++ core releases the GIL); ``"sequential"``: one after the other, in this
        process; ``"dask"``: the workers of a ``distributed.Client`` (``client``, or the
        default client); ``"ray"``: Ray tasks on the cluster this process is connected to
        (``ray.init(...)`` first; else ``ray.init()``: the cluster at ``RAY_ADDRESS`` or a new
        local one).
    n_jobs : int, optional
        Cells run at once; ``None``: all cores for loky and threading, all workers for Dask,
        as many as Ray's CPUs allow. Ignored by ``"sequential"``.
    cache_dir : str or path-like, optional
        Folder of per-cell result files ``<key>.json`` (:func:`cache_key`): the SHA-256 of
        ``fn`` by value (:func:`function_key`: its code, the values it captures, its defaults
        and partial arguments, the plain-data globals and same-module functions it reads),
        ``params`` and ``seed``. Each cell is written (atomically) the moment it finishes;
        cells already there are loaded instead of computed, and unreadable files are
        recomputed with a warning. Two different functions never share cells, and editing
        ``fn`` (not just its comments) starts afresh; the same ``fn`` finds its cells from any
        process. Library code ``fn`` calls is seen by name only: after upgrading it, use a
        fresh folder. Needs joblib, and the values ``fn`` holds must be picklable.
    progress : bool
        A tqdm progress bar over the cells (silently none if tqdm is not installed).
    threads_per_worker : int
        OpenMP threads of each loky or Ray worker (``OMP_NUM_THREADS`` in the workers: for
        loky through ``joblib.parallel_config(inner_max_num_threads=...)``, for Ray through
        the tasks' ``runtime_env``, each cell also reserving that many of Ray's CPUs). The
        other backends keep their own setting: ``"sequential"`` and ``"threading"`` that of
        this process, Dask that of its workers (its nannies set ``OMP_NUM_THREADS=1`` unless
        configured otherwise). Results never depend on thread counts, only the speed does.
    client : distributed.Client, optional
        The Dask client for ``backend="dask"``.

    Returns
    -------
    SweepResult
        ``rows`` in cell order, with the numbers of computed and cached cells.

    Raises
    ------
    Exception
        The first exception raised by a cell, unchanged (on Python >= 3.11 with a note
        naming the cell). The sweep stops there (the running cells are stopped, the others
        not started); the cells finished before are in ``cache_dir``, so a re-run computes
        only the rest. Likewise on Ctrl-C.
    TypeError
        With ``cache_dir``, if a value ``fn`` holds cannot be pickled, so it has no key.

    Examples
    --------
    >>> def cell(seq_len, seed):                                  # doctest: +SKIP
    ...     task = lpgx.TeacherTask(8, 4, seq_len, rng=seed)
    ...     model = lpgx.LinearARModel(4, seq_len, 8)
    ...     lpgx.pretrain(model, task, steps=200, rng=seed)
    ...     return {"err": lpgx.sequence_error(model, *task.sample(512, rng=seed + 1))}
    >>> res = sweep(cell, {"seq_len": [8, 16, 32]}, seeds=range(4), cache_dir="runs/n")  # doctest: +SKIP
    >>> res.groupby_mean("seq_len", "err")                         # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    names, values = _check_grid(grid)
    seed_list = _check_seeds(seeds)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    n_jobs = _check_count(n_jobs, "n_jobs", allow_none=True)
    threads = _check_count(threads_per_worker, "threads_per_worker", allow_none=False)
    assert threads is not None
    fn_name = _fn_name(fn)
    fn_key = function_key(fn) if cache_dir is not None else ""

    cells = [(dict(zip(names, combo)), seed) for combo in itertools.product(*values) for seed in seed_list]
    results: List[Optional[Dict[str, Scalar]]] = [None] * len(cells)
    paths: List[Optional[Path]] = [None] * len(cells)
    cached = 0
    if cache_dir is not None:
        folder = Path(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (params, seed) in enumerate(cells):
            path = folder / f"{_cell_key(fn_key, params, seed)}.json"
            paths[i] = path
            results[i] = _load_cached(path, fn_key, params, seed)
            cached += results[i] is not None
    todo = [(i, params, seed) for i, ((params, seed), r) in enumerate(zip(cells, results)) if r is None]

    bar = None
    if progress and todo:
        try:
            from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            pass
        else:
            bar = tqdm(total=len(cells), initial=cached, desc="sweep", unit="cell")
    computed = 0
    try:
        if not todo:
            outputs: Iterable[Tuple[int, bool, Any, float]] = ()
        elif backend == "sequential":
            outputs = _sequential_results(fn, todo)
        elif backend == "ray":
            outputs = _ray_results(fn, todo, n_jobs, threads)
        else:
            outputs = _joblib_results(fn, todo, backend, n_jobs, threads, client)
        try:
            for i, ok, result, seconds in outputs:
                params, seed = cells[i]
                if not ok:
                    exc, tb = result
                    if exc.__traceback__ is None:  # pickled in another process
                        exc.__cause__ = _RemoteTraceback(tb)
                    raise exc
                clean = _clean_result(result, params, seed)
                results[i] = clean
                target = paths[i]
                if target is not None:
                    _store(target, fn_name, fn_key, params, seed, clean, seconds)
                computed += 1
                if bar is not None:
                    bar.update(1)
        finally:
            close = getattr(outputs, "close", None)
            if close is not None:
                close()
    finally:
        if bar is not None:
            bar.close()

    rows = []
    for (params, seed), result in zip(cells, results):
        assert result is not None
        rows.append({**params, "seed": seed, **result})
    return SweepResult(rows=rows, computed=computed, cached=cached, seconds=time.perf_counter() - t0)


__all__ = ["BACKENDS", "SweepResult", "cache_key", "function_key", "sweep"]
