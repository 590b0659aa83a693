#!/usr/bin/python3
"""The active-learning criteria against numpy (issue 14).

A small pool: 3 random ReLU MLPs (numpy) score 700 pairs of random embeddings; their
score differences d and last-hidden-activation differences x are saved for
criteria_tool, which runs rmens's criteria with 1, 2 and 3 ranks. Checks:
  - entropy, disagreement, BALD, levelset of every candidate against numpy formulas;
  - the D-optimal weights p(1 - p);
  - the greedy dopt / past_dopt picks and their gains against a numpy computation by
    log-determinants (gain = det(M + w x x^T) / det(M) - 1, averaged over members);
  - every strategy's top-k picks are the same for 1, 2 and 3 ranks, bit for bit.
usage: check_criteria.py TOOL MPIRUN"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

E, N, H, D, N_LAB, K, RIDGE = 3, 700, 8, 12, 50, 100, 0.5  # K > 64: the greedy's syncs (DOPT_SYNC)


def make_pool(rng):
    emb_a, emb_b = rng.normal(size=(N, D)), rng.normal(size=(N, D))
    d, x = np.zeros((E, N), np.float32), np.zeros((E, N, H), np.float32)
    for m in range(E):
        w1, b1 = rng.normal(size=(D, H)) / np.sqrt(D), rng.normal(size=H) * 0.1
        w2 = rng.normal(size=H) * 2
        ha, hb = np.maximum(emb_a @ w1 + b1, 0), np.maximum(emb_b @ w1 + b1, 0)
        d[m] = ha @ w2 - hb @ w2
        x[m] = ha - hb
    return d, x


def run_tool(tool, mpirun, np_, path, out):
    cmd = [mpirun, "--oversubscribe", "--bind-to", "none", "-n", str(np_), tool, path, out]
    subprocess.run(cmd, check=True, timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    with open(out, "rb") as f:
        raw = f.read()
    rec = np.dtype([("id", "<u4"), ("crit", "<f8")])
    picks = np.frombuffer(raw[: 7 * K * rec.itemsize], rec).reshape(7, K)
    rest = np.frombuffer(raw[7 * K * rec.itemsize:], "<f8")
    return picks, rest, raw[: 7 * K * rec.itemsize]


def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log(p) + (1 - p) * np.log1p(-p))
    return np.nan_to_num(h)


def greedy_logdet(d, x, past):
    p = 1 / (1 + np.exp(-d.astype(np.float64)))
    w = p * (1 - p)
    xs = x.astype(np.float64)
    M = np.array([RIDGE * np.eye(H) for _ in range(E)])
    if past:
        for m in range(E):
            M[m] += (xs[m, :N_LAB].T * w[m, :N_LAB]) @ xs[m, :N_LAB]
    open_ = np.arange(N) >= N_LAB
    picks, gains = [], []
    for _ in range(K):
        g = np.zeros(N)
        for m in range(E):
            base = np.linalg.slogdet(M[m])[1]
            # the determinant lemma would be the production formula; compute it the long way
            for i in np.nonzero(open_)[0]:
                g[i] += np.expm1(np.linalg.slogdet(M[m] + w[m, i] * np.outer(xs[m, i], xs[m, i]))[1] - base)
        g /= E
        g[~open_] = -np.inf
        best = int(np.argmax(g))  # first index among equal gains, as the production ties
        picks.append(best)
        gains.append(g[best])
        open_[best] = False
        for m in range(E):
            M[m] += w[m, best] * np.outer(xs[m, best], xs[m, best])
    return np.array(picks), np.array(gains), w


def main(tool, mpirun):
    rng = np.random.default_rng(14)
    d, x = make_pool(rng)
    d[:, 600] = d[:, 601]  # a pair of candidates with equal criteria: ties by index
    x[:, 600] = x[:, 601]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pool.bin")
        with open(path, "wb") as f:
            f.write(struct.pack("<5i", E, N, H, N_LAB, K) + struct.pack("<d", RIDGE))
            f.write(d.astype("<f4").tobytes() + x.astype("<f4").tobytes())
        picks1, rest, raw1 = run_tool(tool, mpirun, 1, path, os.path.join(tmp, "out1"))
        for np_ in (2, 3):
            _, _, raw = run_tool(tool, mpirun, np_, path, os.path.join(tmp, f"out{np_}"))
            assert raw == raw1, f"picks with {np_} ranks differ from 1 rank"
    crit = rest[: 5 * N].reshape(5, N)
    w_tool = rest[5 * N:].reshape(E, N)

    p = 1 / (1 + np.exp(-d.astype(np.float64)))
    pbar = p.mean(0)
    expected = {1: entropy(pbar), 2: p.var(0), 3: entropy(pbar) - entropy(p).mean(0), 4: -np.abs(d.astype(np.float64).mean(0))}
    names = ["random", "entropy", "disagreement", "bald", "levelset"]
    for s, ref in expected.items():
        err = np.max(np.abs(crit[s] - ref))
        assert err < 1e-9, f"{names[s]}: max error {err}"
        order = sorted(range(N_LAB, N), key=lambda i: (-crit[s][i], i))[:K]
        assert list(picks1[s]["id"]) == order, f"{names[s]}: picks {list(picks1[s]['id'])} != {order}"
    r = crit[0]
    assert np.all((r >= 0) & (r < 1)) and len(set(picks1[0]["id"])) == K and min(picks1[0]["id"]) >= N_LAB
    assert np.allclose(w_tool, p * (1 - p), rtol=0, atol=1e-12), "D-optimal weights"
    for s, past in ((5, False), (6, True)):
        ref_picks, ref_gains, _ = greedy_logdet(d, x, past)
        got = picks1[s]
        assert list(got["id"]) == list(ref_picks), f"{'past_dopt' if past else 'dopt'}: picks {list(got['id'])} != {list(ref_picks)}"
        rel = np.max(np.abs(got["crit"] - ref_gains) / np.abs(ref_gains))
        assert rel < 1e-4, f"gains differ by {rel} relative"
        print(f"{'past_dopt' if past else 'dopt'}: picks {list(got['id'])[:6]}..., gains {got['crit'][:3]} (rel. error {rel:.2e})")
    print("criteria: ok")


if __name__ == "__main__":
    main(*sys.argv[1:3])
