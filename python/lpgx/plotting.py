"""What the experiments' plots share: matplotlib (an optional extra, ``lpgx[plot]``) imported
lazily, with the file-only Agg backend outside interactive sessions; saving as PNG and PDF;
the colours of the two rewards. Each experiment draws its own figure."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from ._optional import require

COLORS = {"outcome": "tab:red", "process": "tab:blue"}
LABELS = {"outcome": "outcome reward (ORM)", "process": "process reward (PRM)"}
MISSING = ("matplotlib is not installed, so the plots were skipped: pip install 'lpgx[plot]', "
           "then `lpgx plot DIR` draws them from the saved artifacts")


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def pyplot() -> Any:
    """``matplotlib.pyplot``, on Agg unless a backend was chosen or the session is interactive."""
    mpl = require("matplotlib")
    if mpl.get_backend().lower() not in ("agg", "pdf", "svg") and not _interactive():
        mpl.use("Agg")
    return require("matplotlib.pyplot")


def _interactive() -> bool:
    return "ipykernel" in sys.modules or hasattr(sys, "ps1")


def save(fig: Any, out: Optional[Any], name: str) -> None:
    """Writes ``out/name.png`` and ``out/name.pdf`` (nothing when ``out`` is None)."""
    if out is None:
        return
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(folder / f"{name}.{ext}", dpi=150, bbox_inches="tight")
