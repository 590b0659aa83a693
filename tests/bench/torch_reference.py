#!/usr/bin/python3
"""The PyTorch reference doing the benchmark's work (issue 7), for the ratios.

Mirrors the reference pipeline (released with Sun et al. 2025) with Debian's python3-torch:
MLP D -> 1024 -> 512 -> 1 (ReLU), "siamese" Bradley-Terry = BCE-with-logits on
r(a) - r(b), Adam lr 1e-3; threads = OPENBLAS_NUM_THREADS (the same as rmens).

  train PAIRS EPOCHS MINIBATCH [fp32|bf16]
                                 P distinct pairs over a table of random embeddings, held
                                 twice as the reference holds them (both orders): each
                                 epoch is 2P pair evaluations in shuffled minibatches of
                                 MINIBATCH pair evaluations, gathered from the table.
                                 Reports distinct pairs/s = P / epoch seconds.
                                 bf16: forward and loss under
                                 torch.autocast("cpu", dtype=torch.bfloat16) (weights,
                                 gradients and Adam stay fp32).
  eval STORE MEMBERS CHUNK [fp32|bf16]
                                 every member of MEMBERS (rmens members.h5) scores the
                                 store's test split, read with h5py CHUNK prompts at a
                                 time (streamed, as rmens eval does); no gradients.
                                 bf16: each model model.to(torch.bfloat16), each chunk
                                 converted to bf16 (counted in the scoring time).
Prints one JSON line."""
import json
import os
import sys
import time

import h5py
import numpy as np
import torch

D, H1, H2 = 2048, 1024, 512
threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "2"))
torch.set_num_threads(threads)


def mlp(dim=D):
    return torch.nn.Sequential(torch.nn.Linear(dim, H1), torch.nn.ReLU(), torch.nn.Linear(H1, H2),
                               torch.nn.ReLU(), torch.nn.Linear(H2, 1))


def train(pairs, epochs, minibatch, precision="fp32"):
    torch.manual_seed(0)
    n_items = 16 * 512  # the table bench_train uses: 16 prompts x 512 responses
    table = torch.randn(n_items, D)
    first = torch.randint(0, n_items, (pairs,))
    second = torch.randint(0, n_items, (pairs,))
    # both orders, labels 1 then 0: the reference's data set of 2P rows
    a = torch.cat([first, second])
    b = torch.cat([second, first])
    y = torch.cat([torch.ones(pairs), torch.zeros(pairs)])
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    epoch_seconds = []
    autocast = precision == "bf16"
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(2 * pairs)
        for start in range(0, 2 * pairs, minibatch):
            idx = order[start:start + minibatch]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model(table[a[idx]]).squeeze(1) - model(table[b[idx]]).squeeze(1), y[idx])
            loss.backward()
            opt.step()
        epoch_seconds.append(time.perf_counter() - t0)
    best = min(epoch_seconds[1:]) if epochs > 1 else epoch_seconds[0]  # the first epoch warms up
    flops_per_eval = 2 * (2 * (D * H1 + H1 * H2 + H2)) + 2 * (2 * (D * H1 + 2 * H1 * H2 + 2 * H2))
    return {"bench": "torch_train", "precision": precision, "threads": threads, "pairs": pairs, "epochs": epochs, "minibatch": minibatch,
            "epoch_seconds": [round(s, 3) for s in epoch_seconds],
            "distinct_pairs_per_s": round(pairs / best, 1), "pair_evals_per_s": round(2 * pairs / best, 1),
            "gflops": round(2 * pairs / best * flops_per_eval / 1e9, 2)}


def load_members(path):
    members = []
    with h5py.File(path, "r") as f:
        for name in sorted((k for k in f if k.startswith("member_")), key=lambda k: int(k.split("_")[1])):
            g = f[name]
            layers = sorted((k for k in g if k.startswith("layer_")), key=lambda k: int(k.split("_")[1]))
            linears = []
            for layer in layers:
                w = torch.from_numpy(g[layer]["weight"][:])
                lin = torch.nn.Linear(w.shape[1], w.shape[0])
                lin.weight.data[:] = w
                lin.bias.data[:] = torch.from_numpy(g[layer]["bias"][:])
                linears.append(lin)
            seq = sum([[lin, torch.nn.ReLU()] for lin in linears], [])[:-1]
            members.append((torch.nn.Sequential(*seq).eval(), float(g.attrs["score_mean"]), float(g.attrs["score_std"])))
    return members


def evaluate(store, members_path, chunk, precision="fp32"):
    members = load_members(members_path)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    members = [(model.to(dtype), mean, std) for model, mean, std in members]
    read_s = score_s = 0.0
    scored = 0
    t_start = time.perf_counter()
    with h5py.File(store, "r") as f, torch.no_grad():
        emb = f["test/embeddings"]
        n, k, dim = emb.shape
        buf = np.empty((chunk, k, dim), dtype=np.float32)
        for p0 in range(0, n, chunk):
            p1 = min(n, p0 + chunk)
            t0 = time.perf_counter()
            piece = buf[:p1 - p0]
            emb.read_direct(piece, np.s_[p0:p1])
            x = torch.from_numpy(piece.reshape(-1, dim))
            read_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            x = x.to(dtype)
            for model, mean, std in members:
                z = (model(x).squeeze(1).float() - mean) / std
            score_s += time.perf_counter() - t0
            scored += x.shape[0] * len(members)
    wall = time.perf_counter() - t_start
    del z
    flops = 2 * (dim * H1 + H1 * H2 + H2)
    return {"bench": "torch_eval", "precision": precision, "threads": threads, "members": len(members), "chunk_prompts": chunk,
            "member_responses": scored, "read_seconds": round(read_s, 3), "score_seconds": round(score_s, 3),
            "wall_seconds": round(wall, 3), "member_responses_per_s": round(scored / score_s, 1),
            "gflops": round(scored / score_s * flops / 1e9, 2),
            "member_responses_per_wall_s": round(scored / wall, 1)}


if __name__ == "__main__":
    prec = sys.argv[5] if len(sys.argv) == 6 else "fp32"
    if len(sys.argv) in (5, 6) and prec in ("fp32", "bf16") and sys.argv[1] == "train":
        print(json.dumps(train(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), prec)))
    elif len(sys.argv) in (5, 6) and prec in ("fp32", "bf16") and sys.argv[1] == "eval":
        print(json.dumps(evaluate(sys.argv[2], sys.argv[3], int(sys.argv[4]), prec)))
    else:
        sys.exit(__doc__)
