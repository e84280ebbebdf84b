#!/usr/bin/python3
"""The PyTorch reference of bench/mome.sh: one training step (forward, mean
cross-entropy, backward, AdamW update) of a MoME model of the same shape as
bench/mome-step.c (lib/nn/move.h's architecture, float32, CPU): three grids
8x8x64, 7x7x36 and 4x4x72, each adaptive-average-pooled to 4x4 tokens and
refined by an ADT block (pre-norm self-attention, deformable cross-attention
over the grid through grid_sample(align_corners=False), FFN), mixed by a
router on a 64-value instruction, then a pre-norm transformer whose blocks
carry MoLE-I adapters (top-1 per example), [CLS] + mean pooling, 16 classes.
Parameter counts match the C model; the step's work is the same.

usage: mome_torch.py THREADS [B WIDTH DEPTH ADAPTERS STEPS]
Prints "threads median_s min_s".
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GRIDS = [(8, 8, 64), (7, 7, 36), (4, 4, 72)]
K, P, E, C, R = 4, 4, 64, 16, 16


def gelu(v):
    return F.gelu(v, approximate='tanh')


class Deform(nn.Module):
    def __init__(self, D, Dv, H, gh, gw):
        super().__init__()
        self.H, self.gh, self.gw = H, gh, gw
        self.value = nn.Linear(Dv, D)
        self.off = nn.Linear(D, H * P * 2)
        self.attn = nn.Linear(D, H * P)
        self.out = nn.Linear(D, D)
        ij = torch.stack(torch.meshgrid(torch.arange(K), torch.arange(K), indexing='ij'), -1)
        ref = torch.stack([(2 * ij[..., 1] + 1) / K - 1, (2 * ij[..., 0] + 1) / K - 1], -1)
        self.register_buffer('ref', ref.reshape(K * K, 2).float())

    def forward(self, q, grid):
        B, Nq, D = q.shape
        H, dh = self.H, D // self.H
        v = self.value(grid).reshape(B, self.gh, self.gw, H, dh).permute(0, 3, 4, 1, 2)
        v = v.reshape(B * H, dh, self.gh, self.gw)
        off = self.off(q).reshape(B, Nq, H, P, 2)
        scale = torch.tensor([2.0 / self.gw, 2.0 / self.gh])
        pos = self.ref[None, :, None, None, :] + off * scale
        a = self.attn(q).reshape(B, Nq, H, P).softmax(-1)
        pos = pos.permute(0, 2, 1, 3, 4).reshape(B * H, Nq, P, 2)
        s = F.grid_sample(v, pos, mode='bilinear', padding_mode='zeros', align_corners=False)
        s = s.reshape(B, H, dh, Nq, P)
        ctx = (s * a.permute(0, 2, 1, 3)[:, :, None]).sum(-1)   # B H dh Nq
        return self.out(ctx.permute(0, 3, 1, 2).reshape(B, Nq, D))


class ADT(nn.Module):
    def __init__(self, D, Dv, H, gh, gw):
        super().__init__()
        self.gh, self.gw = gh, gw
        self.proj = nn.Linear(Dv, D)
        self.pos = nn.Parameter(torch.zeros(K * K, D))
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, H, batch_first=True)
        self.deform = Deform(D, Dv, H, gh, gw)
        self.ffn1, self.ffn2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, grid):                                 # B, gh*gw, Dv
        B, _, Dv = grid.shape
        img = grid.reshape(B, self.gh, self.gw, Dv).permute(0, 3, 1, 2)
        q = F.adaptive_avg_pool2d(img, K).flatten(2).transpose(1, 2)
        q = self.proj(q) + self.pos
        h = self.ln1(q)
        q = q + self.attn(h, h, h, need_weights=False)[0]
        q = q + self.deform(self.ln2(q), grid)
        return q + self.ffn2(gelu(self.ffn1(self.ln3(q))))


class MoLE(nn.Module):
    def __init__(self, D, N):
        super().__init__()
        self.N = N
        self.router = nn.Linear(E, N)
        self.down = nn.Parameter(torch.empty(N, R, D).uniform_(-1 / math.sqrt(D), 1 / math.sqrt(D)))
        self.bdown = nn.Parameter(torch.zeros(N, R))
        self.up = nn.Parameter(torch.zeros(N, D, R))
        self.bup = nn.Parameter(torch.zeros(N, D))

    def forward(self, u, e):
        p = self.router(e).softmax(-1)
        k = p.argmax(-1)
        pk = p.gather(1, k[:, None])[:, :, None]
        h = gelu(torch.einsum('btd,brd->btr', u, self.down[k]) + self.bdown[k][:, None])
        return pk * (torch.einsum('btr,bdr->btd', h, self.up[k]) + self.bup[k][:, None])


class Block(nn.Module):
    def __init__(self, D, H, N):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, H, batch_first=True)
        self.ffn1, self.ffn2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
        self.mole = MoLE(D, N) if N else None

    def forward(self, x, e):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        u = self.ln2(x)
        y = x + self.ffn2(gelu(self.ffn1(u)))
        return y + self.mole(u, e) if self.mole is not None else y


class MoME(nn.Module):
    def __init__(self, D, depth, N, H=4):
        super().__init__()
        self.enc = nn.ModuleList(ADT(D, dv, H, gh, gw) for gh, gw, dv in GRIDS)
        self.r1, self.r2 = nn.Linear(E, D), nn.Linear(D, len(GRIDS))
        self.vmod = nn.Parameter(torch.zeros(D))
        self.vpos = nn.Parameter(torch.zeros(K * K, D))
        self.iproj = nn.Linear(E, D)
        self.imod = nn.Parameter(torch.zeros(D))
        self.cls = nn.Parameter(torch.zeros(D))
        self.blocks = nn.ModuleList(Block(D, H, N) for _ in range(depth))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, C)

    def forward(self, grids, e):
        q = torch.stack([m(g) for m, g in zip(self.enc, grids)], 1)    # B, M, K*K, D
        w = self.r2(gelu(self.r1(e))).softmax(-1)
        vis = (q * w[:, :, None, None]).sum(1) + self.vmod + self.vpos
        ins = (self.iproj(e) + self.imod)[:, None]
        x = torch.cat([self.cls.expand(e.shape[0], 1, -1), vis, ins], 1)
        for b in self.blocks:
            x = b(x, e)
        x = self.lnf(x)
        return self.head(x[:, 0] + x.mean(1))


def main():
    a = [int(v) for v in sys.argv[1:]] + [1, 32, 128, 2, 4, 5][len(sys.argv) - 1:]
    th, B, D, depth, N, steps = a[:6]
    torch.set_num_threads(th)
    torch.manual_seed(1)
    net = MoME(D, depth, N)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    grids = [torch.randn(B, gh * gw, dv) for gh, gw, dv in GRIDS]
    e = torch.randn(B, E)
    y = torch.randint(0, C, (B,))
    times = []
    for k in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(grids, e), y).backward()
        opt.step()
        if k:
            times.append(time.perf_counter() - t0)
    times.sort()
    print('%d %.4f %.4f %d' % (th, times[len(times) // 2], times[0],
                               sum(p.numel() for p in net.parameters())))


if __name__ == '__main__':
    main()
