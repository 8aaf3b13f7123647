#!/usr/bin/env python
"""Plot logits/s against the vocabulary k (log-log) from a ``bench_scaling.py --json`` file.

One panel per (block set, N); in each, one line per implementation (colour) and operation
(line style). Skipped cases leave gaps. Several files are drawn together (a case measured in
more than one: the first file's).

    python bench/plot_scaling.py scaling.json [more.json ...] -o scaling.png
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

OPS = ("sample", "log_prob", "grad_log_prob", "grad_sparse")
STYLES = {"sample": "-", "log_prob": "--", "grad_log_prob": ":", "grad_sparse": "-."}
COLOURS = {"lpgx": "C0", "numpy": "C1", "torch f32": "C2", "torch f64": "C3"}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", help="outputs of bench_scaling.py --json")
    ap.add_argument("-o", "--out", default="scaling.png", help="image file to write")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for path in args.json:
        with open(path) as fh:
            files.append(json.load(fh))
    data = files[0]  # the title's machine and settings
    cases, seen = [], set()
    for c in (c for f in files for c in f["cases"] if "results" in c):
        if (c["blocks"], c["k"], c["N"]) not in seen:
            seen.add((c["blocks"], c["k"], c["N"]))
            cases.append(c)
    panels = sorted({(c["blocks"], c["N"]) for c in cases}, key=lambda p: (p[0] != "default", p[0], p[1]))
    if not panels:
        print("no measured cases in", " ".join(args.json), file=sys.stderr)
        return 1
    blocks = sorted({p[0] for p in panels}, key=lambda b: (b != "default", b))
    Ns = sorted({p[1] for p in panels})
    fig, axes = plt.subplots(len(blocks), len(Ns), figsize=(max(8.0, 4.2 * len(Ns)), 3.4 * len(blocks) + 1.2),
                             squeeze=False, sharex=True, sharey=True)
    for (r, b) in enumerate(blocks):
        for (col, N) in enumerate(Ns):
            ax = axes[r][col]
            sel = sorted((c for c in cases if c["blocks"] == b and c["N"] == N), key=lambda c: c["k"])
            for op in OPS:
                for impl, colour in COLOURS.items():
                    pts = [(c["k"], c["results"][op][impl]["logits_per_s"]) for c in sel
                           if op in c["results"] and impl in c["results"][op]]
                    if pts:
                        ks, v = zip(*pts)
                        ax.plot(ks, v, STYLES[op], color=colour, marker=".", label=f"{impl} {op}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{b} blocks, N = {N}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            if r == len(blocks) - 1:
                ax.set_xlabel("vocabulary k")
            if col == 0:
                ax.set_ylabel("logits / s  (B·N·k / best time)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    machine = data.get("machine", {})
    fig.suptitle(f"lpgx {machine.get('lpgx', '')} on {machine.get('nproc', '?')} cores, "
                 f"{data['config'].get('threads')} threads, {str(machine.get('date', ''))[:16]}", fontsize=10)
    fig.tight_layout(rect=(0, 0.16, 1, 0.96))
    fig.savefig(args.out, dpi=120)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
