#!/usr/bin/python3
"""The PyTorch reference of bench/transformer.sh: one training step (forward,
mean cross-entropy, backward, AdamW update) of the same encoder as
bench/transformer-step.c (the model of tests/transformer_torch.py, in float32,
on the CPU), random tokens with random lengths in [T/2, T].

usage: transformer_torch.py THREADS [B T D H F DEPTH STEPS]
Prints "threads median_s min_s": seconds per step over STEPS steps after one
warm-up step.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))
from transformer_torch import Encoder  # noqa: E402


def main():
    a = [int(v) for v in sys.argv[1:]] + [64, 96, 256, 4, 1024, 2, 5][len(sys.argv) - 2:]
    th, B, T, D, H, Fw, depth, steps = a[:8]
    torch.set_num_threads(th)
    torch.manual_seed(1)
    net = Encoder(D, T, D, H, Fw, depth, 2)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    x = torch.randn(B, T, D)
    lens = torch.randint(T // 2, T + 1, (B,))
    y = torch.randint(0, 2, (B,))
    times = []
    for k in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x, lens), y).backward()
        opt.step()
        if k:
            times.append(time.perf_counter() - t0)
    times.sort()
    print('%d %.4f %.4f' % (th, times[len(times) // 2], times[0]))


if __name__ == '__main__':
    main()
