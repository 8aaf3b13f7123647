"""The base model barrier on a planted staircase: what outcome rewards can and cannot reach,
and how process rewards get past it.

    python examples/base_model_barrier.py [--quick]
"""
import argparse

import numpy as np

import lpgx
from lpgx import algorithms as alg

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
args = ap.parse_args()
steps = 2000 if args.quick else 20000

k, N = 4, 8
alphas = [0.5, 1e-2, 1e-4, k ** -N * 1.01]                 # base likelihood of each context
task, base = lpgx.staircase(k, N, alphas, rng=0)
print("base log-likelihoods:", np.round(base.log_prob(task.contexts, task.y_star), 2))
print("base LQ(eps) for eps = 0.2, 0.4, 0.6, 0.8:",
      lpgx.likelihood_quantile(base, task.contexts, task.y_star, [0.2, 0.4, 0.6, 0.8]))

for name, run in [("outcome (Alg. 1, m=100)", lambda m: alg.pg_outcome_multi(m, task, base, steps=steps, m=100, rng=1)),
                  ("process (Alg. 2, m=100)", lambda m: alg.pg_process(m, task, base, steps=steps, m=100, rng=1))]:
    model = base.copy()
    r = run(model)
    q = np.exp(model.log_prob(task.contexts, task.y_star))
    print(f"{name}: {r.total_queries} queries, likelihood per context {np.round(q, 3)}")
