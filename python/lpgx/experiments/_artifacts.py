"""Experiment artifacts: arrays in one checksummed .npz, the config beside it as JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, TypeVar

import numpy as np

from .._io import PathLike, atomic_write, load_npz, save_npz

T = TypeVar("T")


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into JSON-ready Python values."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_artifact(out: PathLike, name: str, arrays: Dict[str, np.ndarray], config: Dict[str, Any]) -> Path:
    out = Path(out)
    config = plain(config)
    save_npz(out / f"{name}.npz", arrays, {"kind": name, "config": config})
    atomic_write(out / f"{name}.json", lambda f: f.write(json.dumps(config, indent=2, sort_keys=True)), mode="w")
    return out


def settings(paper: Dict[str, Any], quick_changes: Dict[str, Any], quick: bool, overrides: Dict[str, Any],
             name: str) -> Dict[str, Any]:
    """An experiment's settings: the paper's, or the quick ones, with overrides checked by name."""
    base = dict(paper, **quick_changes) if quick else dict(paper)
    unknown = set(overrides) - set(base)
    if unknown:
        raise TypeError(f"{name}: unknown settings {sorted(unknown)}; known: {sorted(base)}")
    return dict(base, **overrides, quick=bool(quick))


def finish(result: T, out: Optional[PathLike], plot: bool) -> T:
    """Saves ``result`` to ``out`` (when given) and plots it there when matplotlib is installed."""
    if out is not None:
        result.save(out)  # type: ignore[attr-defined]
        if plot:
            try:
                result.plot(out)  # type: ignore[attr-defined]
            except ImportError:
                pass
    return result


def load_artifact(out: PathLike, name: str) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    arrays, meta = load_npz(Path(out) / f"{name}.npz", name)
    return arrays, meta["config"]
