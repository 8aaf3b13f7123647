"""The ``lpgx`` command line: reproduce the paper's figures and re-plot saved artifacts."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np


def _common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--quick", action="store_true", help="a small setting that finishes in well under a minute")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    p.add_argument("--out", default=default_out, help="output folder (one subfolder per seed)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--progress", action="store_true", help="show progress bars (needs tqdm)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set post_steps=1000 seq_len=64")


def _overrides(pairs: List[str]) -> dict:
    out = {}
    for item in pairs:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _print_table(rows: List[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="lpgx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _common(sub.add_parser("figure1", help="Figure 1: outcome vs process rewards"), "out/figure1")
    _common(sub.add_parser("figure2", help="Figure 2 (synthetic): LQ over pre-training"), "out/figure2")
    p = sub.add_parser("rates", help="the theory's rates on planted instances (SPEC §7)")
    p.add_argument("which", choices=["alpha", "length", "sgd", "online", "barrier", "all"])
    p.add_argument("--quick", action="store_true", help="a small setting (about a minute in all)")
    p.add_argument("--out", default="out/rates", help="output folder")
    p.add_argument("--backend", default="loky", help="sweep backend: loky, threading, sequential, dask, ray")
    p.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: all cores)")
    p.add_argument("--cache", default=None, help="cache folder: an interrupted run resumes from it")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a setting")
    p = sub.add_parser("plot", help="re-plot a saved figure1/figure2 folder")
    p.add_argument("dir")
    args = parser.parse_args(argv)

    from . import experiments

    if args.command == "rates":
        from .experiments.rates import EXPERIMENTS
        names = list(EXPERIMENTS) if args.which == "all" else [args.which]
        rows = []
        for name in names:
            res = EXPERIMENTS[name](out=args.out, quick=args.quick, backend=args.backend, n_jobs=args.jobs,
                                    cache_dir=None if args.cache is None else Path(args.cache) / name,
                                    **_overrides(args.set))
            rows.append(res.summary())
            for key, val in res.summary().items():
                print(f"{name}: {key}: {val}")
        return 0 if all(all(r.get(k) for k in r if k.startswith("check ")) for r in rows) else 1

    if args.command == "plot":
        d = Path(args.dir)
        kinds = [k for k in ("figure1", "figure2") if (d / f"{k}.npz").exists()]
        if not kinds:
            parser.error(f"{d} holds no figure1.npz or figure2.npz")
        for k in kinds:
            res = (experiments.Figure1Result if k == "figure1" else experiments.Figure2Result).load(d)
            res.plot(d)
            print(f"wrote {d / (k + '.png')} and {d / (k + '.pdf')}")
        return 0

    run = experiments.figure1 if args.command == "figure1" else experiments.figure2
    rows = []
    for seed in args.seed:
        out = Path(args.out) / f"seed{seed}"
        res = run(out=out, seed=seed, quick=args.quick, n_threads=args.threads, progress=args.progress,
                  **_overrides(args.set))
        if args.command == "figure1":
            rows.append(res.summary(steps=(0, res.config["post_steps"] // 8, res.config["post_steps"] // 4,
                                           res.config["post_steps"])))
        else:
            lq = res.lq(np.array([0.1, 0.5]), log=True)
            rows.append({"seed": seed, **{f"log LQ(0.1) after {s}": float(v) for s, v in zip(res.steps, lq[:, 0])}})
        print(f"seed {seed}: {res.config['total_seconds']:.1f} s, artifacts in {out}", file=sys.stderr)
    _print_table(rows)
    return 0




if __name__ == "__main__":
    sys.exit(main())
