#!/usr/bin/python3
"""The PyTorch reference's Bradley-Terry training step at the benchmark's shapes.

Mirrors the reference pipeline (released with Sun et al. 2025): MLP D -> 1024 -> 512 -> 1 with
ReLU, a "siamese" BT step = BCE-with-logits on r(a) - r(b), Adam lr 1e-3, minibatch of
512 pair evaluations, the same thread count as bench_train (OPENBLAS_NUM_THREADS, else 2).
The reference stores every pair in both orders, so its rate of *distinct* pairs is half
its rate of pair evaluations; both are printed. Usage: bench_train_torch.py [seconds] [minibatch]"""
import json
import os
import sys
import time

import torch

D, H1, H2 = 2048, 1024, 512
B = int(sys.argv[2]) if len(sys.argv) > 2 else 512  # pair evaluations per minibatch
threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "2"))
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(D, H1), torch.nn.ReLU(), torch.nn.Linear(H1, H2),
                            torch.nn.ReLU(), torch.nn.Linear(H2, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.BCEWithLogitsLoss()
xa, xb = torch.randn(B, D), torch.randn(B, D)
y = (torch.rand(B) < 0.5).float()


def step():
    opt.zero_grad()
    loss = loss_fn(model(xa).squeeze(1) - model(xb).squeeze(1), y)
    loss.backward()
    opt.step()


for _ in range(3):
    step()
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
t0, steps = time.perf_counter(), 0
while time.perf_counter() - t0 < seconds or steps < 5:
    step()
    steps += 1
elapsed = time.perf_counter() - t0
evals = steps * B / elapsed
flops_per_pair = 2 * (2 * (D * H1 + H1 * H2 + H2)) + 2 * (2 * (D * H1 + 2 * H1 * H2 + 2 * H2))
print(f"torch {torch.__version__}, {threads} threads: {evals:.0f} pair evaluations/s, "
      f"{evals * flops_per_pair / 1e9:.1f} GFLOP/s, {evals / 2:.0f} distinct pairs/s (each pair held twice)")
print(json.dumps({"bench": "train_torch", "threads": threads, "pair_evals_per_s": round(evals, 1),
                  "distinct_pairs_per_s": round(evals / 2, 1), "gflops": round(evals * flops_per_pair / 1e9, 2)}))
