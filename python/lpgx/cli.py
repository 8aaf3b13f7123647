"""The ``lpgx`` command line: reproduce the paper's figures, check the theory's rates on
planted instances, and re-plot saved artifacts. Every argument and ``--set`` override is
checked before any work starts."""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from . import __version__, plotting
from . import experiments as ex
from .experiments import paper_figure1, paper_figure1_seeds, paper_figure2, practice_estimators, rates
from .experiments import open_many_answers, open_noise, open_prm_quality
from .experiments._axes import AXES
from .experiments._settings import Settings, check_out, show
from .sweep import BACKENDS

DESCRIPTION = textwrap.fill(
    "Reproduce the figures of 'Post-Training with Policy Gradients: Optimality and the Base Model Barrier' "
    "(arXiv 2603.06957), check the theory's rates on planted instances, and re-plot saved artifacts. Every "
    "argument is checked before any work starts.", 88)
FIGURES: Dict[str, Settings] = {"figure1": paper_figure1.SETTINGS, "figure2": paper_figure2.SETTINGS}
RATES: Dict[str, Callable[..., rates.RateResult]] = {
    "alpha": ex.rates_alpha, "length": ex.rates_length, "sgd": ex.rates_sgd, "online": ex.rates_online,
    "barrier": ex.lq_barrier}
# One valid invocation per command, shown in its help (and run with --dry-run by the tests).
EXAMPLES: Dict[str, List[str]] = {
    "figure1": ["--quick", "--seed", "0", "1", "2", "--set", "post_steps=1000", "seq_len=32"],
    "figure2": ["--quick", "--set", "phases=3", "eval_size=2048"],
    "rates": ["alpha", "--quick", "--backend", "sequential", "--set", "seeds=3", "alphas=0.1,0.01,0.001"],
    "plot": ["out/figure1/seed0"],
    "estimators": ["--quick", "--seeds", "3", "--jobs", "2", "--set", "estimators=reinforce,grpo,pass_at_k"],
    "noise": ["--quick", "--seeds", "3", "--jobs", "2", "--set", "noise=0,0.1,0.2", "methods=orm,prm"],
    "many-answers": ["--quick", "--jobs", "2", "--set", "families=tolerance", "tolerance=0,1,2"],
    "prm-quality": ["--quick", "--jobs", "2", "--set", "kinds=window,flip", "flip=0.1,0.2"],
}
# The experiments run through lpgx.sweep: the estimators (docs/estimators.md) and the open questions
# (docs/open_questions.md). command -> (settings, run, summary, what, what --quick does).
SWEPT: Dict[str, Any] = {
    "estimators": (practice_estimators.SETTINGS, ex.estimators,
                   "estimators from practice (RLOO, GRPO, pass@k, KL, clipping) at equal query budgets "
                   "(docs/theory.md §10)",
                   "Every estimator post-trains the Figure-1 base model with the same reward queries per step, "
                   "and climbs a planted staircase.", "a smaller setting (about a minute)"),
    "noise": (open_noise.SETTINGS, ex.noise, "noisy verifiers: query cost and final error as the noise grows",
              "Queries to a target on a planted instance for on-policy PG (ORM, PRM) and Algorithms 1 and 2, "
              "with the fitted exponent of cost against 1/(1 - 2p); Figure-1 finals over noise levels.",
              "a smaller setting (under a minute)"),
    "many-answers": (open_many_answers.SETTINGS, ex.many_answers,
                     "many correct answers: the ORM/PRM gap as the correct set grows",
                     "The Figure-1 base post-trained with rewards accepting a Hamming ball, free positions or "
                     "several teachers; final set errors, their gap and the off-support centres.",
                     "a smaller setting (under a minute)"),
    "prm-quality": (open_prm_quality.SETTINGS, ex.prm_quality,
                    "imperfect PRMs: short-sighted, noisy per prefix, learned from ORM labels",
                    "The ORM - PRM final-error gap against each imperfect PRM's quality, paired by seed.",
                    "a smaller setting (under a minute)"),
}
EXTRAS = {"joblib": "sweep", "distributed": "dask", "ray": "ray", "tqdm": "progress"}


# -- argument types (argparse turns their errors into "argument --x: ...") -------------------

def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def _epilog(command: str, what: str) -> str:
    return f"{textwrap.fill(what, 88)}\n\nexample:\n  lpgx {command} {shlex.join(EXAMPLES[command])}"


def _settings_epilog(command: str, what: str) -> str:
    return _epilog(command, f"{what} Change any setting with --set KEY=VALUE (lists as 1,2,3 or JSON); "
                            f"`lpgx {command} --list-settings` prints every setting with its default, and "
                            f"--dry-run checks the arguments and shows the settings a run would use.")


def _settings_args(p: argparse.ArgumentParser, quick: str) -> None:
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override settings (see --list-settings)")
    p.add_argument("--list-settings", action="store_true", help="print every setting with its default and stop")
    p.add_argument("--dry-run", action="store_true", help="check the arguments, print the settings and stop")
    p.add_argument("--progress", action="store_true", help="show progress bars (needs tqdm)")


def _parser() -> "tuple[argparse.ArgumentParser, Dict[str, argparse.ArgumentParser]]":
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="lpgx", description=DESCRIPTION, formatter_class=raw,
        epilog="`lpgx COMMAND --help` describes a command; `lpgx COMMAND --list-settings` its settings.")
    parser.add_argument("--version", action="version", version=f"lpgx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subs = {}
    figures = {"figure1": ("Figure 1: outcome vs process rewards after pre-training (docs/theory.md §9)",
                           "The paper's Figure 1 with its settings as defaults."),
               "figure2": ("Figure 2 (synthetic): the Likelihood Quantile over pre-training (docs/theory.md §9)",
                           "The paper's synthetic Figure 2 with its settings as defaults.")}
    for name, (summary, what) in figures.items():
        p = sub.add_parser(name, help=summary, description=summary, formatter_class=raw,
                           epilog=_settings_epilog(name, what))
        _settings_args(p, "a smaller setting that finishes in seconds")
        p.add_argument("--seed", type=_count(0), nargs="+", default=[0], help="one or more seeds (integers >= 0)")
        p.add_argument("--out", default=f"out/{name}", help="output folder (one subfolder per seed)")
        p.add_argument("--threads", type=_count(1), default=None, help="threads (default: all cores)")
        if name == "figure1":
            _figure1_seeds_args(p)
        subs[name] = p

    summary = "the theory's rates on planted instances (docs/theory.md §7, §8)"
    p = sub.add_parser("rates", help=summary, description=summary, formatter_class=raw,
                       epilog=_settings_epilog("rates", "Each experiment fits a slope over seeds and checks the "
                                                        "prediction; the exit code is 1 if a check fails."))
    p.add_argument("which", nargs="?", choices=[*RATES, "all"], help="the experiment, or all of them")
    _settings_args(p, "smaller grids and fewer seeds (about a minute for all)")
    p.add_argument("--out", default="out/rates", help="output folder")
    p.add_argument("--backend", default="loky", choices=BACKENDS, help="how the grid's cells run (default: loky)")
    p.add_argument("--jobs", type=_count(1), default=None, help="parallel jobs (default: all cores)")
    p.add_argument("--cache", default=None, metavar="DIR", help="cache folder: an interrupted run resumes from it")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="the dask scheduler to run on (with --backend dask)")
    p.add_argument("--seeds", default=None, metavar="SEEDS",
                   help="the seeds of every grid point, e.g. 0-9 or 0,3,5-7 (instead of --set seeds=N); the "
                        "slopes' bootstrap intervals are over these seeds")
    subs["rates"] = p

    for name, (_, _, summary, what, quick) in SWEPT.items():
        p = sub.add_parser(name, help=summary, description=summary, formatter_class=raw,
                           epilog=_settings_epilog(name, what + " Prints the tables and fits."))
        _settings_args(p, quick)
        p.add_argument("--seeds", type=_count(1), default=None, help="seeds of the Figure-1 runs (--set seeds=N)")
        p.add_argument("--out", default=f"out/{name}", help="output folder")
        p.add_argument("--backend", default="loky", choices=BACKENDS, help="how the runs are spread (default: loky)")
        p.add_argument("--jobs", type=_count(1), default=None, help="parallel jobs (default: all cores)")
        p.add_argument("--cache", default=None, metavar="DIR", help="cache folder: an interrupted run resumes from it")
        subs[name] = p

    summary = "re-plot a saved output folder (figure1, figure2, rates, estimators, noise, ...)"
    p = sub.add_parser("plot", help=summary, description=summary, formatter_class=raw,
                       epilog=_epilog("plot", "Draws every artifact found in DIR (needs matplotlib)."))
    p.add_argument("dir", metavar="DIR")
    subs["plot"] = p
    return parser, subs


def _figure1_seeds_args(p: argparse.ArgumentParser) -> None:
    """Figure 1 over many seeds through lpgx.sweep (docs/figure1.md), and the training axis."""
    p.add_argument("--seeds", default=None, metavar="SEEDS",
                   help="many seeds through lpgx.sweep, e.g. 0-19 or 0,3,5-7: per-seed artifacts, summary.csv, "
                        "centres.csv, report.md and the aggregate figures in --out (instead of --seed)")
    p.add_argument("--backend", default="loky", choices=BACKENDS, help="how the seeds run, with --seeds "
                                                                       "(default: loky)")
    p.add_argument("--jobs", type=_count(1), default=None, help="seeds at once, with --seeds (default: all cores)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache folder, with --seeds (default: OUT/cache): an interrupted run resumes from it")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="the dask scheduler (with --backend dask; default: a local cluster of --jobs workers)")
    p.add_argument("--algorithms", action="store_true",
                   help="with --seeds: also run Algorithm 1, Algorithm 2 and adaptive SGD from each base model at "
                        "the on-policy runs' query budget")
    p.add_argument("--x", default="steps", choices=AXES, help="the training axis of the plots and the table")


def main(argv: Optional[List[str]] = None) -> int:
    parser, subs = _parser()
    args = parser.parse_args(argv)
    p = subs[args.command]
    try:
        if args.command == "rates":
            return _rates(args, p)
        if args.command == "plot":
            return _plot(args, p)
        if args.command in SWEPT:
            return _swept(args, p)
        return _figure(args, p)
    except KeyboardInterrupt:
        print("lpgx: interrupted", file=sys.stderr)
        return 130


# -- checks shared by the commands ---------------------------------------------------------

def _pairs(items: Sequence[str], p: argparse.ArgumentParser) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key:
            p.error(f"argument --set: expected KEY=VALUE, got {item!r}")
        if key in out:
            p.error(f"argument --set: {key} is given twice")
        out[key] = text
    return out


def _overrides(settings: Settings, pairs: Dict[str, str], p: argparse.ArgumentParser) -> Dict[str, Any]:
    out = {}
    for key, text in pairs.items():
        try:
            out[key] = settings.parse(key, text)
        except (TypeError, ValueError) as exc:
            p.error(f"argument --set: {exc}")
    return out


def _resolve(settings: Settings, quick: bool, overrides: Dict[str, Any], p: argparse.ArgumentParser
             ) -> Dict[str, Any]:
    try:
        return settings.resolve(quick, overrides)
    except (TypeError, ValueError) as exc:
        p.error(f"argument --set: {exc}")


def _folder(path: Any, flag: str, p: argparse.ArgumentParser) -> None:
    try:
        check_out(path, f"argument {flag}")
    except (TypeError, ValueError) as exc:
        p.error(str(exc))


def _needs(module: str, flag: str, p: argparse.ArgumentParser) -> None:
    if importlib.util.find_spec(module) is None:
        p.error(f"argument {flag}: needs {module}: pip install 'lpgx[{EXTRAS[module]}]'")


def _check_backend(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    """--backend, --scheduler and --progress against what is installed, before any run."""
    if args.backend != "sequential":
        _needs("joblib", "--backend", p)
    if args.backend == "dask":
        _needs("distributed", "--backend", p)
    elif getattr(args, "scheduler", None) is not None:
        p.error("argument --scheduler: only with --backend dask")
    if args.backend == "ray":
        _needs("ray", "--backend", p)
    if args.progress:
        _needs("tqdm", "--progress", p)


def _list(title: str, settings: Settings) -> None:
    print(f"{title} (change with --set KEY=VALUE; --quick uses the values in parentheses):")
    print("\n".join(settings.describe()))


def _show(title: str, cfg: Dict[str, Any]) -> None:
    print(f"{title}:")
    width = max(map(len, cfg))
    print("\n".join(f"  {k:<{width}}  {show(val)}" for k, val in cfg.items()))


def _skipped_plots() -> None:
    print(f"lpgx: {plotting.MISSING}", file=sys.stderr)


# -- commands ------------------------------------------------------------------------------

def _figure(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    settings = FIGURES[args.command]
    if args.list_settings:
        _list(f"settings of lpgx {args.command}", settings)
        return 0
    overrides = _overrides(settings, _pairs(args.set, p), p)
    cfg = _resolve(settings, args.quick, overrides, p)
    if args.command == "figure1" and args.seeds is not None:
        return _figure1_seeds(args, p, cfg, overrides)
    if args.command == "figure1" and (args.backend != "loky" or args.jobs is not None or args.cache is not None
                                      or args.scheduler is not None or args.algorithms):
        p.error("arguments --backend, --jobs, --cache, --scheduler and --algorithms need --seeds")
    if len(set(args.seed)) != len(args.seed):
        p.error(f"argument --seed: a seed is given twice: {' '.join(map(str, args.seed))}")
    _folder(args.out, "--out", p)
    outs = {seed: Path(args.out) / f"seed{seed}" for seed in args.seed}
    for out in outs.values():
        _folder(out, "--out", p)
    if args.progress:
        _needs("tqdm", "--progress", p)
    if args.dry_run:
        _show(f"lpgx {args.command}: seeds {' '.join(map(str, args.seed))}, artifacts in {args.out}/seed*", cfg)
        return 0
    plot = plotting.available()
    rows = []
    for seed, out in outs.items():
        kw: Dict[str, Any] = dict(out=out, seed=seed, quick=args.quick, n_threads=args.threads,
                                  progress=args.progress, plot=plot, **overrides)
        if args.command == "figure1":
            r1 = ex.figure1(**kw)
            steps = r1.config["post_steps"]
            at = (0, steps // 8, steps // 4, steps)
            if args.x == "steps":
                rows.append(r1.summary(steps=at))
            else:  # the same measurements, labelled by the queries or tokens spent
                first = r1.config["rewards"][0]
                near = [int(np.argmin(np.abs(r1.post[first].test_steps - s))) for s in at]
                rows.append(r1.summary(at=[float(r1.axis(first, args.x)[i]) for i in near], x=args.x))
                if plot:
                    r1.plot(out, x=args.x)
            seconds = r1.config["total_seconds"]
        else:
            r2 = ex.figure2(**kw)
            lq = r2.lq(np.array([0.1]), log=True)[:, 0]
            rows.append({"seed": seed, **{f"log LQ(0.1) after {s}": float(val) for s, val in zip(r2.steps, lq)}})
            seconds = r2.config["total_seconds"]
        print(f"seed {seed}: {seconds:.1f} s, artifacts in {out}", file=sys.stderr)
    _print_table(rows)
    if not plot:
        _skipped_plots()
    return 0


def _figure1_seeds(args: argparse.Namespace, p: argparse.ArgumentParser, cfg: Dict[str, Any],
                   overrides: Dict[str, Any]) -> int:
    if args.seed != [0]:
        p.error("argument --seeds: give --seed or --seeds, not both")
    try:
        seeds = paper_figure1_seeds.parse_seeds(args.seeds, "argument --seeds")
    except ValueError as exc:
        p.error(str(exc))
    _folder(args.out, "--out", p)
    if args.cache is not None:
        _folder(args.cache, "--cache", p)
    _check_backend(args, p)
    if args.dry_run:
        _show(f"lpgx figure1: seeds {paper_figure1_seeds._seed_text(seeds)}, artifacts in {args.out}", cfg)
        return 0
    plot = plotting.available()
    with contextlib.ExitStack() as stack:
        client = None
        if args.backend == "dask":
            import distributed
            try:
                client = stack.enter_context(
                    distributed.Client(args.scheduler) if args.scheduler is not None else  # type: ignore[no-untyped-call, unused-ignore]
                    distributed.Client(n_workers=args.jobs or 2, threads_per_worker=1))  # type: ignore[no-untyped-call, unused-ignore]
            except OSError as exc:
                p.error(f"argument --scheduler: cannot connect to {args.scheduler}: {exc}")
        res = ex.figure1_seeds(seeds, out=args.out, quick=args.quick, backend=args.backend, n_jobs=args.jobs,
                               cache_dir=args.cache, progress=args.progress, plot=plot, algorithms=args.algorithms,
                               client=client, x=args.x, **overrides)
    print(res.report(args.x))
    print(f"lpgx figure1: {len(seeds)} seeds ({res.config['computed']} computed, {res.config['cached']} from the "
          f"cache) in {res.config['total_seconds']:.1f} s; summary.csv, report.md and figures in {args.out}",
          file=sys.stderr)
    if not plot:
        _skipped_plots()
    return 0


def _rates(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    names = list(RATES) if args.which in (None, "all") else [args.which]
    if args.list_settings:
        for name in names:
            _list(f"settings of lpgx rates {name}", rates.SETTINGS[name])
        return 0
    if args.which is None:
        p.error("the following arguments are required: which")
    pairs = _pairs(args.set, p)
    for key in pairs:  # with all, a setting applies to the experiments that have it
        if not any(key in rates.SETTINGS[n].table for n in names):
            if len(names) == 1:
                p.error(f"argument --set: {rates.SETTINGS[names[0]].unknown([key], args.quick)}")
            p.error(f"argument --set: no rate experiment has a setting {key!r}; "
                    f"`lpgx rates all --list-settings` lists them")
    overrides = {n: _overrides(rates.SETTINGS[n], {k: t for k, t in pairs.items() if k in rates.SETTINGS[n].table},
                               p) for n in names}
    if args.seeds is not None:
        if "seeds" in pairs:
            p.error("argument --seeds: give --seeds or --set seeds=N, not both")
        try:
            seed_list = paper_figure1_seeds.parse_seeds(args.seeds, "argument --seeds")
        except ValueError as exc:
            p.error(str(exc))
        for n in names:
            overrides[n]["seeds"] = seed_list
    cfgs = {n: _resolve(rates.SETTINGS[n], args.quick, overrides[n], p) for n in names}
    _folder(args.out, "--out", p)
    if args.cache is not None:
        for n in names:
            _folder(Path(args.cache) / n, "--cache", p)
    _check_backend(args, p)
    if args.backend == "dask" and args.scheduler is None:
        p.error("argument --backend: dask needs --scheduler ADDRESS (a running dask scheduler)")
    if args.dry_run:
        for n in names:
            _show(f"lpgx rates {n}: artifacts in {args.out}", cfgs[n])
        return 0
    plot = plotting.available()
    ok = True
    with contextlib.ExitStack() as stack:
        if args.backend == "dask":  # the default client while it is open, which the sweep uses
            import distributed
            try:
                stack.enter_context(distributed.Client(args.scheduler))  # type: ignore[no-untyped-call, unused-ignore]
            except OSError as exc:
                p.error(f"argument --scheduler: cannot connect to {args.scheduler}: {exc}")
        for n in names:
            res = RATES[n](out=args.out, quick=args.quick, backend=args.backend, n_jobs=args.jobs,
                           cache_dir=None if args.cache is None else Path(args.cache) / n, progress=args.progress,
                           plot=plot, **overrides[n])
            ok = ok and all(res.checks.values())
            for key, val in res.summary().items():
                print(f"{n}: {key}: {val}")
    if not plot:
        _skipped_plots()
    return 0 if ok else 1


def _plot(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    d = Path(args.dir)
    if not d.is_dir():
        p.error(f"argument DIR: {d} is not a folder")
    loaders: Dict[str, Callable[[], Any]] = {}
    if (d / "figure1.npz").exists():
        loaders["figure1"] = lambda: ex.Figure1Result.load(d)
    if (d / "figure2.npz").exists():
        loaders["figure2"] = lambda: ex.Figure2Result.load(d)
    if (d / "figure1_seeds.json").exists():
        loaders["figure1_seeds"] = lambda: ex.Figure1SeedsResult.load(d)
    if (d / "estimators.npz").exists():
        loaders["estimators_curves"] = lambda: ex.EstimatorsResult.load(d)
    for result in (ex.NoiseResult, ex.ManyAnswersResult, ex.PRMQualityResult):
        if (d / f"{result.name}.npz").exists():
            loaders[result.name] = functools.partial(result.load, d)
    for name in RATES:
        if (d / f"rates_{name}.npz").exists():
            loaders[f"rates_{name}"] = functools.partial(ex.RateResult.load, d, name)
    if not loaders:
        p.error(f"argument DIR: {d} holds no figure1.npz, figure1_seeds.json, figure2.npz, rates_*.npz, "
                "estimators.npz, noise.npz, many_answers.npz or prm_quality.npz")
    if not plotting.available():
        p.error("matplotlib is not installed: pip install 'lpgx[plot]'")
    for kind, load in loaders.items():
        try:
            result = load()
        except (OSError, ValueError, KeyError) as exc:
            print(f"lpgx plot: error: {d / (kind + '.npz')}: {exc}", file=sys.stderr)
            return 1
        result.plot(d)
        print(f"wrote {d / (kind + '.png')} and {d / (kind + '.pdf')}")
    return 0


def _swept(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    settings, run = SWEPT[args.command][:2]
    if args.list_settings:
        _list(f"settings of lpgx {args.command}", settings)
        return 0
    pairs = _pairs(args.set, p)
    if args.seeds is not None:
        if "seeds" in pairs:
            p.error("argument --seeds: give --seeds or --set seeds=N, not both")
        pairs["seeds"] = str(args.seeds)
    overrides = _overrides(settings, pairs, p)
    cfg = _resolve(settings, args.quick, overrides, p)
    _folder(args.out, "--out", p)
    if args.cache is not None:
        _folder(args.cache, "--cache", p)
    if args.backend == "dask":
        p.error(f"argument --backend: dask runs from Python, inside a distributed.Client: "
                f"lpgx.experiments.{run.__name__}(backend='dask')")
    _check_backend(args, p)
    if args.dry_run:
        _show(f"lpgx {args.command}: artifacts in {args.out}", cfg)
        return 0
    plot = plotting.available()
    res = run(out=args.out, quick=args.quick, backend=args.backend, n_jobs=args.jobs, cache_dir=args.cache,
              progress=args.progress, plot=plot, **overrides)
    print(res.markdown())
    if getattr(res, "stairs", None):  # the estimators' planted-staircase table
        print(res.stair_markdown())
    for key, val in res.summary().items():
        print(f"{key}: {val}")
    print(f"lpgx {args.command}: {res.config['total_seconds']:.1f} s, artifacts in {args.out}", file=sys.stderr)
    if not plot:
        _skipped_plots()
    return 0


def _print_table(rows: List[Dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
