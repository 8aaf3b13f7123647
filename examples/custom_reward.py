"""Plug your own verifier into post-training: any batched numpy function works.

Here a "lenient" outcome reward accepts a response when at most `tolerance` tokens are
wrong, and we compare it with the exact outcome reward.

    python examples/custom_reward.py [--quick]
"""
import argparse

import numpy as np

import lpgx

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
args = ap.parse_args()
steps = 30 if args.quick else 300

task = lpgx.TeacherTask(context_dim=16, vocab_size=8, seq_len=16, inputs="mixture", num_mix=16, rng=0)
base = lpgx.LinearARModel(8, 16, 16)
lpgx.pretrain(base, task, steps=100, batch_size=128, rng=1)
test = task.sample(512, rng=2)


def lenient(x, y, tolerance=2):
    """+1 if at most `tolerance` tokens differ from y*(x), else -1."""
    wrong = (y != task.correct(x)).sum(axis=1)
    return np.where(wrong <= tolerance, 1.0, -1.0)


for name, reward in [("exact ORM", lpgx.OutcomeReward()),
                     ("lenient ORM", lpgx.CallableReward(lenient, kind="outcome"))]:
    model = base.copy()
    res = lpgx.post_train(model, task, reward=reward, steps=steps, batch_size=256, rng=3, test=test,
                          test_every=steps, baseline=True)
    print(f"{name:12s} test error {res.test_error[0]:.3f} -> {res.test_error[-1]:.3f}, "
          f"{reward.queries} queries")
