"""A sweep over sequence lengths and seeds, cached cell by cell (re-run it: nothing is
recomputed), on local processes or a Dask cluster (--dask).

    python examples/sweep_seeds.py [--quick] [--dask] [--cache DIR]
"""
import argparse
import tempfile

import lpgx


def cell(seq_len, seed):
    task = lpgx.TeacherTask(8, 4, seq_len, rng=seed)
    model = lpgx.LinearARModel(4, seq_len, 8)
    lpgx.pretrain(model, task, steps=100, batch_size=64, rng=seed, n_threads=1)
    return {"error": lpgx.sequence_error(model, *task.sample(512, rng=seed + 1))}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    grid = {"seq_len": [4, 8] if args.quick else [4, 8, 16, 32]}
    seeds = range(2 if args.quick else 8)
    cache = args.cache or tempfile.mkdtemp()
    client = None
    if args.dask:
        from distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    res = lpgx.sweep(cell, grid, seeds=seeds, backend="dask" if args.dask else "loky", cache_dir=cache,
                     client=client, progress=False)
    print(f"{res.computed} cells computed, {res.cached} from the cache ({cache})")
    print(res.groupby_mean(["seq_len"], "error"))
