#!/usr/bin/python3
"""Scaling past this machine, on paper (issue 10): the figures of tests/multinode/SCALING.md.

usage: scaling_model.py --pair-seconds T_PAIR --allreduce-seconds T_AR2 [--allreduce-node-seconds T_AR2_NODE]
                        [--ranks-per-node R] [--nodes 2,8,64] [--batch B]

T_PAIR: measured compute seconds per training pair on one rank (forward + backward +
        its share of Adam, at the reference shapes D = 2048 -> 1024 -> 512 -> 1);
T_AR2:  measured seconds of one gradient allreduce (2,623,491 floats) between 2 ranks on
        different nodes; T_AR2_NODE: the same between 2 ranks of one node.

The reference study (Sun et al. 2025, configs/case_study.cfg): E = 10 members,
40 000 x 10 train embeddings and 2 000 x 500 test embeddings at D = 2048 (float32),
10 000 pairs of which 8 000 train, batch B = 4 000 pairs, 30 epochs.

Model of one member's training with S = parallel.ranks_per_member ranks (train.c): each
step every rank computes B/S pairs, then one in-place MPI_Allreduce of the gradient (ring:
every rank sends and receives 2 (S-1)/S x G bytes), then every rank applies Adam. So

    t_step(S) = B * T_PAIR / S + t_ar(S),   t_ar(S) = 2 (S-1)/S * G / bw   (S > 1)

with bw the measured bandwidth, bw = G / T_AR2 (2 (2-1)/2 = 1 at S = 2); intra-node when
the member's S ranks fit on one node (S <= R), else across nodes. Members run
concurrently in P/S groups, ceil(E / (P/S)) rounds. Efficiency against one rank:

    speedup = E * t_step(1) / (rounds * t_step(S)),   efficiency = speedup / P

and for each node count the best S dividing P is reported (S = 1 when there are enough
ranks: members need no communication at all)."""
import argparse
import math

D, H1, H2 = 2048, 1024, 512
N_PARAMS = D * H1 + H1 + H1 * H2 + H2 + H2 + 1          # 2 623 489
GRAD_FLOATS = N_PARAMS + 2                               # + loss and stop request
GRAD_BYTES = 4 * GRAD_FLOATS                             # 10 493 964 B = 10.5 MB
E = 10
TRAIN_PROMPTS, TRAIN_RESPONSES = 40_000, 10
TEST_PROMPTS, TEST_RESPONSES = 2_000, 500
TRAIN_PAIRS, EPOCHS = 8_000, 30
BENCH_PAIRS = 2_000
CHUNK_PROMPTS = 64                                       # eval.chunk_prompts


def mb(x):
    return x / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair-seconds", type=float, required=True)
    ap.add_argument("--allreduce-seconds", type=float, required=True)
    ap.add_argument("--allreduce-node-seconds", type=float)
    ap.add_argument("--ranks-per-node", type=int, default=2)
    ap.add_argument("--nodes", default="2,8,64")
    ap.add_argument("--batch", type=int, default=4000)
    a = ap.parse_args()
    R, B = a.ranks_per_node, a.batch
    steps = EPOCHS * math.ceil(TRAIN_PAIRS / B)
    bw_net = GRAD_BYTES / a.allreduce_seconds
    bw_node = GRAD_BYTES / a.allreduce_node_seconds if a.allreduce_node_seconds else bw_net

    train_split = TRAIN_PROMPTS * TRAIN_RESPONSES * (D + 1) * 4   # embeddings + golden rewards
    test_split = TEST_PROMPTS * TEST_RESPONSES * (D + 1) * 4
    bench = BENCH_PAIRS * 2 * D * 4
    # Per rank: weights, gradient, Adam m and v, best weights (5 x n_params floats); the
    # minibatch rows (2 B/S x D) and activations + their gradients (2 B/S x (H1 + H2) x 2);
    # one eval piece (chunk_prompts x K_test x D).
    model = 5 * 4 * N_PARAMS
    eval_piece = CHUNK_PROMPTS * TEST_RESPONSES * D * 4

    def batch_mem(S):
        rows = 2 * math.ceil(B / S)
        return rows * D * 4 + rows * (H1 + H2) * 2 * 4

    print(f"gradient: {N_PARAMS:,} parameters + 2 = {GRAD_FLOATS:,} floats = {GRAD_BYTES:,} B = {mb(GRAD_BYTES):.2f} MB")
    print(f"steps per member: {EPOCHS} epochs x ceil({TRAIN_PAIRS} / {B}) = {steps}")
    t1 = B * a.pair_seconds
    print(f"compute per step on one rank: {B} pairs x {a.pair_seconds * 1e3:.4f} ms = {t1:.3f} s")
    print(f"allreduce bandwidth: across nodes {mb(GRAD_BYTES):.2f} MB / {a.allreduce_seconds * 1e3:.1f} ms = "
          f"{bw_net / 1e9:.2f} GB/s; within a node {bw_node / 1e9:.2f} GB/s")
    print()
    print(f"{'S':>3} {'ring bytes/rank/step':>21} {'t_ar(S) across':>15} {'t_step(S)':>10}")
    for S in (1, 2, 4, 8, 16):
        ring = 2 * (S - 1) / S * GRAD_BYTES
        tar = ring / bw_net
        print(f"{S:>3} {mb(ring):>18.2f} MB {tar * 1e3:>12.1f} ms {t1 / S + tar:>9.3f}s")
    print()

    def t_step(S, P):
        if S == 1:
            return t1
        bw = bw_node if S <= R else bw_net
        return t1 / S + 2 * (S - 1) / S * GRAD_BYTES / bw

    print(f"N nodes x R = {R} ranks, E = {E} members; per node: memory = one train split "
          f"({train_split / 1e9:.2f} GB) + R x (model state {mb(model):.1f} MB + batch + eval piece {mb(eval_piece):.0f} MB)")
    print(f"{'N':>3} {'P':>4} {'S':>3} {'groups':>6} {'rounds':>6} {'t_step':>8} {'train time':>11} "
          f"{'speedup':>8} {'eff.':>6} {'mem/node':>9} {'read/node':>10}")
    for N in (int(x) for x in a.nodes.split(",")):
        P = N * R
        best = None
        for S in (s for s in range(1, P + 1) if P % s == 0 and s <= B):
            groups = P // S
            rounds = math.ceil(E / groups)
            t = rounds * steps * t_step(S, P)
            speedup = E * steps * t1 / t
            if best is None or t < best[0] - 1e-12:
                best = (t, S, groups, rounds, speedup)
        t, S, groups, rounds, speedup = best
        mem = train_split + R * (model + batch_mem(S) + eval_piece)
        read = train_split + (test_split + bench) / N
        print(f"{N:>3} {P:>4} {S:>3} {groups:>6} {rounds:>6} {t_step(S, P):>7.3f}s {t:>10.1f}s "
              f"{speedup:>8.2f} {speedup / P:>6.3f} {mem / 1e9:>7.2f}GB {read / 1e9:>8.2f}GB")


if __name__ == "__main__":
    main()
