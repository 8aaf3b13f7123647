"""The ``lpgx`` command line: reproduce the paper's figures and re-plot saved artifacts."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np


def _common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--quick", action="store_true", help="a small setting that finishes in well under a minute")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    p.add_argument("--out", default=default_out, help="output folder (one subfolder per seed)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--progress", action="store_true", help="show progress bars (needs tqdm)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set post_steps=1000 seq_len=64")


def _overrides(pairs: List[str]) -> Dict[str, Any]:
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


def _print_table(rows: List[Dict[str, Any]]) -> None:
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
    if args.command == "rates":
        return _rates(args)
    if args.command == "plot":
        return _plot(args, parser)
    return _figure(args)


def _rates(args: argparse.Namespace) -> int:
    from .experiments.rates import EXPERIMENTS
    names = list(EXPERIMENTS) if args.which == "all" else [args.which]
    ok = True
    for name in names:
        res = EXPERIMENTS[name](out=args.out, quick=args.quick, backend=args.backend, n_jobs=args.jobs,
                                cache_dir=None if args.cache is None else Path(args.cache) / name,
                                **_overrides(args.set))
        ok = ok and all(res.checks.values())
        for key, val in res.summary().items():
            print(f"{name}: {key}: {val}")
    return 0 if ok else 1


def _plot(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .experiments import Figure1Result, Figure2Result
    d = Path(args.dir)
    kinds = [k for k in ("figure1", "figure2") if (d / f"{k}.npz").exists()]
    if not kinds:
        parser.error(f"{d} holds no figure1.npz or figure2.npz")
    for k in kinds:
        if k == "figure1":
            Figure1Result.load(d).plot(d)
        else:
            Figure2Result.load(d).plot(d)
        print(f"wrote {d / (k + '.png')} and {d / (k + '.pdf')}")
    return 0


def _figure(args: argparse.Namespace) -> int:
    from .experiments import figure1, figure2
    rows = []
    for seed in args.seed:
        out = Path(args.out) / f"seed{seed}"
        kw = dict(out=out, seed=seed, quick=args.quick, n_threads=args.threads, progress=args.progress,
                  **_overrides(args.set))
        if args.command == "figure1":
            r1 = figure1(**kw)
            steps = r1.config["post_steps"]
            rows.append(r1.summary(steps=(0, steps // 8, steps // 4, steps)))
            seconds = r1.config["total_seconds"]
        else:
            r2 = figure2(**kw)
            lq = r2.lq(np.array([0.1]), log=True)[:, 0]
            rows.append({"seed": seed, **{f"log LQ(0.1) after {s}": float(v) for s, v in zip(r2.steps, lq)}})
            seconds = r2.config["total_seconds"]
        print(f"seed {seed}: {seconds:.1f} s, artifacts in {out}", file=sys.stderr)
    _print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
