#!/usr/bin/python3
"""The PyTorch side of tests/unit/deform.c: torch.nn.functional.grid_sample
(mode='bilinear', padding_mode='zeros', align_corners=False), in float64, on
the grids V [B,H,W,D], positions pos [B,P,2] (x, y) and output gradient
R [B,P,D] the C test wrote; writes the samples and the gradients of
sum(R * out) with respect to V and pos.

usage: deform_torch.py DIR   (files as in tests/transformer_torch.py)
"""
import sys

import torch
import torch.nn.functional as F

from transformer_torch import read, write


def main():
    base = sys.argv[1]
    t = read(base + '/in')
    V = torch.tensor(t['V'], dtype=torch.float64, requires_grad=True)
    pos = torch.tensor(t['pos'], dtype=torch.float64, requires_grad=True)
    R = torch.tensor(t['R'], dtype=torch.float64)
    # [B,H,W,D] -> [B,D,H,W]; the P positions as a 1 x P output grid
    out = F.grid_sample(V.permute(0, 3, 1, 2), pos[:, None], mode='bilinear',
                        padding_mode='zeros', align_corners=False)
    out = out[:, :, 0].permute(0, 2, 1)  # [B,D,1,P] -> [B,P,D]
    (out * R).sum().backward()
    write(base + '/out', [('out', out.detach().numpy()), ('grad.V', V.grad.numpy()),
                          ('grad.pos', pos.grad.numpy())])


if __name__ == '__main__':
    main()
