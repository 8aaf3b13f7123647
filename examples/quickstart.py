"""Quick start: a teacher task, a model, exact likelihoods, sampling, a gradient, LQ."""
import numpy as np

import lpgx

task = lpgx.TeacherTask(context_dim=32, vocab_size=32, seq_len=128, inputs="mixture", rng=0)
x, y_star = task.sample(1024, rng=1)                 # contexts and correct responses
model = lpgx.LinearARModel(vocab_size=32, seq_len=128, context_dim=32)  # w = 0: uniform

print("margin of the teacher:", lpgx.margins(task.teacher, x, y_star).gamma)
print("log q(y*|x) of the uniform model:", model.log_prob(x[:1], y_star[:1])[0])  # -128 log 32
for step in range(20):                               # a few steps of supervised ascent
    g = model.grad_log_prob(x, y_star) / x.size
    model.w = model.w + 50.0 * g
y = model.sample(x, rng=2)                           # (1024, 128) tokens, own stream per row
print("sequence error after 20 steps:", lpgx.sequence_error(model, x, y_star))
print("log LQ(0.1):", lpgx.likelihood_quantile(model, x, y_star, 0.1, log=True))
print("token-level LQ(0.1):", lpgx.token_likelihood_quantile(model, x, y_star, 0.1))
print("exact match rate of samples:", np.mean((y == y_star).all(axis=1)))
