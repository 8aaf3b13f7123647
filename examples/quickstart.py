"""Quick start: a teacher task, a model, exact likelihoods, sampling, a gradient, LQ.

    python examples/quickstart.py [--quick]
"""
import argparse

import numpy as np

import lpgx

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="smaller sizes")
args = ap.parse_args()
N, B = (32, 256) if args.quick else (128, 1024)

task = lpgx.TeacherTask(context_dim=32, vocab_size=32, seq_len=N, inputs="mixture", rng=0)
x, y_star = task.sample(B, rng=1)                      # contexts and correct responses
model = lpgx.LinearARModel(vocab_size=32, seq_len=N, context_dim=32)  # w = 0: uniform

print("margin of the teacher:", lpgx.margins(task.teacher, x, y_star).gamma)
print("log q(y*|x), uniform model:", model.log_prob(x[:1], y_star[:1])[0], "= -N log 32")
opt = lpgx.Adagrad(lr=0.1)
for step in range(50):                                 # supervised steps from given data
    lpgx.pg_step(model, x, y_star, y_star, reward=None, optimizer=opt)
y = model.sample(x, rng=2)                             # (B, N) tokens, one stream per row
print("sequence error after 50 steps:", lpgx.sequence_error(model, x, y_star))
print("log LQ(0.1):", lpgx.likelihood_quantile(model, x, y_star, 0.1, log=True))
print("token-level LQ(0.1):", lpgx.token_likelihood_quantile(model, x, y_star, 0.1))
print("exact-match rate of samples:", np.mean((y == y_star).all(axis=1)))
