"""Experiment artifacts: arrays in one checksummed .npz, the config beside it as JSON."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, TypeVar

import numpy as np

from .. import plotting
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


def finish(result: T, out: Optional[PathLike], plot: bool) -> T:
    """Saves ``result`` to ``out`` (when given) and plots it there; without matplotlib the
    plots are skipped with a warning (the saved artifact can be re-plotted later)."""
    if out is not None:
        result.save(out)  # type: ignore[attr-defined]
        if plot:
            if plotting.available():
                result.plot(out)  # type: ignore[attr-defined]
            else:
                warnings.warn(plotting.MISSING, stacklevel=3)
    return result


def load_artifact(out: PathLike, name: str) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    arrays, meta = load_npz(Path(out) / f"{name}.npz", name)
    return arrays, meta["config"]
