#!/usr/bin/python3
"""The PyTorch side of tests/unit/transformer_torch.c: the encoder of
lib/nn/encoder.h rebuilt from torch.nn pieces (nn.TransformerEncoderLayer with
norm_first=True, GELU approximate='tanh', layer-norm eps 1e-5, dropout 0,
src_key_padding_mask from the lengths), in float64, on the weights and inputs
the C test wrote; writes the logits, the mean cross-entropy and the gradient of
every parameter by its C name.

usage: transformer_torch.py DIR   (reads DIR/in.txt + DIR/in.f32, writes
DIR/out.txt + DIR/out.f32; a .txt line is "name n dim..." for the next n
float32 values of the .f32 file)
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read(base):
    data = np.fromfile(base + '.f32', dtype='<f4')
    out, off = {}, 0
    for line in open(base + '.txt'):
        f = line.split()
        n, shape = int(f[1]), [int(x) for x in f[2:]]
        out[f[0]] = data[off:off + n].reshape(shape)
        off += n
    return out


def write(base, tensors):
    with open(base + '.txt', 'w') as t, open(base + '.f32', 'wb') as d:
        for name, a in tensors:
            a = np.asarray(a, dtype='<f4')
            t.write('%s %d %s\n' % (name, a.size, ' '.join(map(str, a.shape))))
            d.write(a.tobytes())


def main():
    base = sys.argv[1]
    t = read(base + '/in')
    torch.set_default_dtype(torch.float64)
    x = torch.tensor(t['x'], dtype=torch.float64)
    B, T, din = x.shape
    lens = torch.tensor(t['len'].astype(np.int64))
    y = torch.tensor(t['y'].astype(np.int64))
    D = t['proj.W'].shape[0]
    C = t['head.W'].shape[0]
    H = int(t['heads'][0])
    depth = sum(1 for k in t if k.endswith('.attn.Wqkv'))
    Fw = t['blk0.ffn.W1'].shape[0] if depth else 1

    proj, head, lnf = nn.Linear(din, D), nn.Linear(D, C), nn.LayerNorm(D, eps=1e-5)
    gelu = lambda v: F.gelu(v, approximate='tanh')
    layers = [nn.TransformerEncoderLayer(D, H, Fw, dropout=0.0, activation=gelu,
                                         layer_norm_eps=1e-5, batch_first=True,
                                         norm_first=True) for _ in range(depth)]
    extra = {'mod': nn.Parameter(torch.zeros(D)), 'cls': nn.Parameter(torch.zeros(D)),
             'pos': nn.Parameter(torch.zeros(T + 1, D))}
    names = {'proj.W': proj.weight, 'proj.b': proj.bias, 'lnf.g': lnf.weight,
             'lnf.b': lnf.bias, 'head.W': head.weight, 'head.b': head.bias}
    names.update(extra)
    for l, L in enumerate(layers):
        for ours, theirs in (('ln1.g', L.norm1.weight), ('ln1.b', L.norm1.bias),
                             ('attn.Wqkv', L.self_attn.in_proj_weight),
                             ('attn.bqkv', L.self_attn.in_proj_bias),
                             ('attn.Wo', L.self_attn.out_proj.weight),
                             ('attn.bo', L.self_attn.out_proj.bias),
                             ('ln2.g', L.norm2.weight), ('ln2.b', L.norm2.bias),
                             ('ffn.W1', L.linear1.weight), ('ffn.b1', L.linear1.bias),
                             ('ffn.W2', L.linear2.weight), ('ffn.b2', L.linear2.bias)):
            names['blk%d.%s' % (l, ours)] = theirs
    with torch.no_grad():
        for k, p in names.items():
            p.copy_(torch.tensor(t[k]).reshape(p.shape))
    for L in layers:
        L.train()

    len1 = lens + 1
    valid = torch.arange(T + 1)[None, :] < len1[:, None]          # [B, T+1]
    h = proj(x) + extra['mod']
    z = torch.cat([extra['cls'].expand(B, 1, D), h], 1) + extra['pos'][None]
    for L in layers:
        z = L(z, src_key_padding_mask=~valid)
    z = lnf(z)
    pooled = z[:, 0] + (z * valid[..., None]).sum(1) / len1[:, None]
    logits = head(pooled)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = [('logits', logits.detach().numpy()), ('loss', [loss.item()])]
    out += [('grad.' + k, p.grad.numpy()) for k, p in names.items()]
    write(base + '/out', out)


if __name__ == '__main__':
    main()
