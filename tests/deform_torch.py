#!/usr/bin/python3
"""The PyTorch side of tests/unit/deform.c: torch.nn.functional.grid_sample
(mode='bilinear', padding_mode='zeros', align_corners=False), in float64, on
the grids V [B,H,W,D], positions pos [B,P,2] (x, y) and output gradient
R [B,P,D] the C test wrote; writes the samples and the gradients of
sum(R * out) with respect to V and pos.  Then the same for the deformable
attention of lib/nn/deform.h (da.* tensors), written the way Deformable
DETR's PyTorch reference (ms_deform_attn_core_pytorch, one level) computes
it: one grid_sample per head, weights by a softmax over the points.

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
    res = [('out', out.detach().numpy()), ('grad.V', V.grad.numpy()),
           ('grad.pos', pos.grad.numpy())]
    res += deform_attn(t)
    write(base + '/out', res)


def deform_attn(t):
    """out[b,q,h*dh+c] = sum_p softmax(logit)[b,q,h,p] sample(Val_h, ref + 2 off / (W, H))."""
    val, ref, off, logit = (torch.tensor(t['da.' + k], dtype=torch.float64, requires_grad=True)
                            for k in ('Val', 'ref', 'off', 'logit'))
    R = torch.tensor(t['da.R'], dtype=torch.float64)
    B, H, W, D = val.shape
    heads = logit.shape[2]
    dh = D // heads
    pos = ref[:, :, None, None] + 2 * off / torch.tensor([W, H], dtype=torch.float64)
    A = torch.softmax(logit, -1)  # [B,Nq,heads,P]
    outs = []
    for h in range(heads):
        vh = val[..., h * dh:(h + 1) * dh].permute(0, 3, 1, 2)  # [B,dh,H,W]
        s = F.grid_sample(vh, pos[:, :, h], mode='bilinear', padding_mode='zeros',
                          align_corners=False)  # [B,dh,Nq,P]
        outs.append((s * A[:, None, :, h]).sum(-1).permute(0, 2, 1))  # [B,Nq,dh]
    out = torch.cat(outs, -1)
    (out * R).sum().backward()
    return [('da.out', out.detach().numpy())] + [
        ('da.grad.' + k, x.grad.numpy()) for k, x in
        (('Val', val), ('ref', ref), ('off', off), ('logit', logit))]


if __name__ == '__main__':
    main()
