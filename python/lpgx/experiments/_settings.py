"""An experiment's settings: each with its default, its quick value, its check and a line of
help, in one table that the experiment, ``*_settings()``, the command line and its
``--list-settings`` all read. Every check runs before any work starts and raises a
``TypeError``/``ValueError`` naming the setting, with the rules the library itself applies."""
from __future__ import annotations

import copy
import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .. import _validate as v
from ..sweep import BACKENDS

Check = Callable[[Any, str], Any]
_SAME = object()  # marks a setting whose quick value is its default


@dataclass(frozen=True)
class Setting:
    default: Any
    check: Check
    help: str
    quick: Any = _SAME


class Settings:
    """The table of one experiment's settings; ``joint`` checks settings against each other
    (and the memory they imply) once each has passed its own check."""

    def __init__(self, experiment: str, table: Dict[str, Setting],
                 joint: Optional[Callable[[Dict[str, Any]], None]] = None) -> None:
        self.experiment = experiment
        self.table = table
        self.joint = joint

    def defaults(self, quick: bool = False) -> Dict[str, Any]:
        """A fresh dict of every setting: the paper's values, or the quick ones."""
        return {k: copy.deepcopy(s.quick if quick and s.quick is not _SAME else s.default)
                for k, s in self.table.items()}

    def resolve(self, quick: bool, overrides: Mapping[str, Any]) -> Dict[str, Any]:
        """The defaults with ``overrides`` applied, each override checked by name."""
        unknown = [k for k in overrides if k not in self.table]
        if unknown:
            raise TypeError(self.unknown(unknown, quick))
        cfg = self.defaults(quick)
        for key, value in overrides.items():
            cfg[key] = self.table[key].check(value, key)
        if self.joint is not None:
            self.joint(cfg)
        return cfg

    def resolve_sweep(self, quick: bool, overrides: Mapping[str, Any], out: Any, backend: str,
                      n_jobs: Optional[int], cache_dir: Any, plot: bool) -> Dict[str, Any]:
        """:meth:`resolve` for an experiment run through ``lpgx.sweep``: every argument of the
        call is checked before any run starts. The settings carry ``quick``."""
        cfg = dict(self.resolve(v.flag(quick, "quick"), overrides), quick=bool(quick))
        check_out(out)
        check_out(cache_dir, "cache_dir")
        v.option(backend, "backend", BACKENDS)
        if n_jobs is not None:
            v.positive_int(n_jobs, "n_jobs")
        v.flag(plot, "plot")
        return cfg

    def parse(self, key: str, text: str) -> Any:
        """The value of ``--set key=text``, read as the type of the setting's default and checked."""
        if key not in self.table:
            raise TypeError(self.unknown([key], False))
        return self.table[key].check(from_text(text, self.table[key].default, key), key)

    def unknown(self, keys: Sequence[str], quick: bool) -> str:
        """The message for settings this experiment does not have: it lists those it has."""
        return (f"{self.experiment} has no setting{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))}; "
                f"its settings are {self.listing(quick)}")

    def listing(self, quick: bool) -> str:
        """``key=default`` for every setting, on one line."""
        return ", ".join(f"{k}={show(val)}" for k, val in self.defaults(quick).items())

    def describe(self) -> List[str]:
        """One line per setting: name, default, the quick value where it differs, and its
        help (on a line of its own under a long value)."""
        rows = []
        for k, s in self.table.items():
            value = show(s.default)
            if s.quick is not _SAME and s.quick != s.default:
                value += f" (quick: {show(s.quick)})"
            rows.append((k, value, s.help))
        wk = max(len(r[0]) for r in rows)
        wv = 24
        lines = []
        for k, value, h in rows:
            if len(value) <= wv:
                lines.append(f"  {k:<{wk}}  {value:<{wv}}  {h}")
            else:
                lines += [f"  {k:<{wk}}  {value}", f"  {'':<{wk}}  {'':<{wv}}  {h}"]
        return lines


def show(value: Any) -> str:
    """A value as ``--set`` reads it (lists comma-separated; floats to 6 digits)."""
    if isinstance(value, (list, tuple)):
        return ",".join(show(x) for x in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


# -- text (from the command line) to a value of the default's type --------------------------

def from_text(text: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise TypeError(f"{name} must be true or false, got {text!r}")
    if isinstance(default, (list, tuple)):
        return [_scalar_from_text(t, default[0] if default else "", name) for t in _list_items(text, name)]
    return _scalar_from_text(text, default, name)


def _list_items(text: str, name: str) -> List[Any]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError:  # the shell ate the quotes of ["a","b"]: read [a,b]
            stripped = stripped.strip("[]")
        else:
            if not isinstance(items, list):
                raise TypeError(f"{name} must be a list, got {text!r}")
            return [x if isinstance(x, str) else json.dumps(x) for x in items]
    items = [t.strip() for t in stripped.split(",")] if stripped else []
    if any(t == "" for t in items):
        raise ValueError(f"{name} has an empty entry in {text!r}")
    return items


def _scalar_from_text(text: str, default: Any, name: str) -> Any:
    if isinstance(default, numbers.Integral):
        try:
            return int(text)
        except ValueError:
            pass
        try:
            f = float(text)  # 1e6 is an integer too
        except ValueError:
            f = np.nan
        if np.isfinite(f) and f.is_integer():
            return int(f)
        raise TypeError(f"{name} must be an integer, got {text!r}")
    if isinstance(default, numbers.Real):
        try:
            return float(text)
        except ValueError:
            raise TypeError(f"{name} must be a real number, got {text!r}") from None
    return text


# -- checks: each takes (value, name), returns the value in plain Python types --------------

def count(minimum: int = 1, maximum: Optional[int] = None) -> Check:
    return lambda value, name: v.positive_int(value, name, minimum, maximum)


def real(low: float = -np.inf, high: float = np.inf, open_low: bool = False, open_high: bool = False) -> Check:
    def check(value: Any, name: str) -> float:
        x = v.finite_float(value, name, low, high)
        if (open_low and x == low) or (open_high and x == high):
            raise ValueError(f"{name} must lie in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}, "
                             f"got {x}")
        return x
    return check


def _items(value: Any, name: str, min_len: int) -> List[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
    if len(items) < min_len:
        raise ValueError(f"{name} needs at least {min_len} value{'s' if min_len > 1 else ''}, got {len(items)}")
    return items


def _distinct(items: List[Any], name: str) -> List[Any]:
    if len(set(items)) != len(items):
        raise ValueError(f"{name} holds a value twice: {show(items)}")
    return items


def counts(minimum: int = 1, min_len: int = 1, distinct: bool = True, maximum: Optional[int] = None) -> Check:
    """A list of integers >= minimum (for a grid: distinct, and enough points to fit a slope)."""
    def check(value: Any, name: str) -> List[int]:
        out = [v.positive_int(x, f"{name}[{i}]", minimum, maximum) for i, x in enumerate(_items(value, name, min_len))]
        return _distinct(out, name) if distinct else out
    return check


def reals(low: float = -np.inf, high: float = np.inf, open_low: bool = False, open_high: bool = False,
          min_len: int = 1, distinct: bool = True) -> Check:
    each = real(low, high, open_low, open_high)

    def check(value: Any, name: str) -> List[float]:
        out = [each(x, f"{name}[{i}]") for i, x in enumerate(_items(value, name, min_len))]
        return _distinct(out, name) if distinct else out
    return check


def choices(options: Sequence[str]) -> Check:
    """A non-empty list of distinct options."""
    def check(value: Any, name: str) -> List[str]:
        out = [v.option(x, f"{name}[{i}]", options) for i, x in enumerate(_items(value, name, 1))]
        return _distinct(out, name)
    return check


def fits_memory(nbytes: float, what: str) -> None:
    """The library's allocation limit, checked before the run instead of partway through it."""
    if nbytes > v.MAX_BYTES:
        raise ValueError(f"{what} would need {nbytes / 2**30:.1f} GiB (the limit is "
                         f"{v.MAX_BYTES / 2**30:.0f} GiB)")


# -- arguments every experiment takes -------------------------------------------------------

def check_seed(seed: Any, name: str = "seed") -> int:
    return v.positive_int(seed, name, minimum=0)


def check_out(out: Any, name: str = "out") -> Optional[Path]:
    """``out`` as a folder that exists or can be created (None: nothing is saved)."""
    if out is None:
        return None
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder (str or os.PathLike), got {type(out).__name__}")
    path = Path(out)
    if str(out) == "":
        raise ValueError(f"{name} is empty: give a folder")
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{name}: {path} is an existing file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{name}: the folder {path} is not writable")
        return path
    if path.is_symlink():
        raise ValueError(f"{name}: {path} is a broken link")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{name}: {parent} is a file, so the folder {path} cannot be created")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"{name}: {path} cannot be created in {parent} (not writable)")
            break
        if parent.is_symlink():  # a dangling link on the way
            raise ValueError(f"{name}: {parent} is a broken link, so the folder {path} cannot be created")
    return path
