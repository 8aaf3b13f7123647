"""Optional dependencies are imported lazily, with an install hint when missing."""
from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {"pandas": "tables", "matplotlib": "plot", "tqdm": "progress", "joblib": "sweep",
          "distributed": "dask", "ray": "ray"}


def require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ImportError(f"this needs {top}: pip install 'lpgx[{EXTRAS.get(top, top)}]' "
                          f"(or pip install {top})") from None
