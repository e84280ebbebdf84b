#!/usr/bin/python3
"""The PyTorch reference of bench/train.sh: the same expert as mmoe-train-expert
(two modalities, per-modality projection + ReLU + dropout, concat-prod fusion,
one hidden layer, AdamW with decoupled weight decay on weights only, linear
warm-up over 10% of the steps then cosine, gradient-norm clip 1, best epoch
by validation F1), on the same records, standardised with training statistics.

usage: train_torch.py DATA.msgpack THREADS [EPOCHS BATCH PROJ HIDDEN [SEED]]
Prints one line: threads, training seconds (wall), test accuracy, test F1,
training CPU seconds (all threads).
"""
import math
import sys
import time

import msgpack
import numpy as np
import torch
import torch.nn as nn


def load(path):
    X = {s: ([], []) for s in ('train', 'val', 'test')}
    Y = {s: [] for s in X}
    with open(path, 'rb') as f:
        for r in msgpack.Unpacker(f, raw=False):
            s = r['split']
            X[s][0].append(np.frombuffer(r['v']['data'], '<f4'))
            X[s][1].append(np.frombuffer(r['t']['data'], '<f4'))
            Y[s].append(r['label'])
    return ({s: (np.array(a), np.array(b)) for s, (a, b) in X.items()},
            {s: np.array(y, dtype=np.int64) for s, y in Y.items()})


class Expert(nn.Module):
    def __init__(self, dv, dt, proj, hidden, C, p):
        super().__init__()
        self.pv = nn.Sequential(nn.Linear(dv, proj), nn.ReLU(), nn.Dropout(p))
        self.pt = nn.Sequential(nn.Linear(dt, proj), nn.ReLU(), nn.Dropout(p))
        self.head = nn.Sequential(nn.Linear(3 * proj, hidden), nn.ReLU(), nn.Dropout(p),
                                  nn.Linear(hidden, C))

    def forward(self, v, t):
        hv, ht = self.pv(v), self.pt(t)
        return self.head(torch.cat([hv, ht, hv * ht], 1))


def f1(pred, y):
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    epochs, batch, proj, hidden, seed = (list(map(int, sys.argv[3:8])) + [10, 256, 256, 512, 1][len(sys.argv) - 3:])[:5]
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    X, Y = load(path)
    tensors = {}
    for m in (0, 1):
        mu = X['train'][m].mean(0)
        sd = X['train'][m].std(0)
        sd[sd <= 1e-6] = 1
        for s in X:
            tensors[s, m] = torch.from_numpy(((X[s][m] - mu) / sd).astype(np.float32))
    ys = {s: torch.from_numpy(Y[s]) for s in Y}
    net = Expert(X['train'][0].shape[1], X['train'][1].shape[1], proj, hidden, 2, 0.1)
    decay = [p for n, p in net.named_parameters() if n.endswith('weight')]
    nodecay = [p for n, p in net.named_parameters() if not n.endswith('weight')]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01},
                             {'params': nodecay, 'weight_decay': 0.0}], lr=1e-3)
    n = len(ys['train'])
    spe = (n + batch - 1) // batch
    total, warm = spe * epochs, round(0.1 * spe * epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else
                                              0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / max(1, total - warm)))))
    lossf = nn.CrossEntropyLoss()
    best, best_state = -1.0, None
    t0 = time.perf_counter()
    c0 = time.process_time()
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(tensors['train', 0][idx], tensors['train', 1][idx]), ys['train'][idx])
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            pv = net(tensors['val', 0], tensors['val', 1]).argmax(1)
        m = f1(pv, ys['val'])
        if m > best:
            best = m
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    net.load_state_dict(best_state)
    net.eval()
    with torch.no_grad():
        pt = net(tensors['test', 0], tensors['test', 1]).argmax(1)
    acc = float((pt == ys['test']).float().mean())
    print('%d %.3f %.4f %.4f %.2f' % (threads, secs, acc, f1(pt, ys['test']), cpu))


if __name__ == '__main__':
    main()
