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


class Encoder(nn.Module):
    """lib/nn/encoder.h in torch.nn pieces; `names` maps our parameter names
    to the torch parameters."""

    def __init__(self, din, T, D, H, Fw, depth, C):
        super().__init__()
        self.proj, self.head, self.lnf = nn.Linear(din, D), nn.Linear(D, C), nn.LayerNorm(D, eps=1e-5)
        gelu = lambda v: F.gelu(v, approximate='tanh')
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(D, H, Fw, dropout=0.0, activation=gelu, layer_norm_eps=1e-5,
                                       batch_first=True, norm_first=True) for _ in range(depth))
        self.mod, self.cls = nn.Parameter(torch.zeros(D)), nn.Parameter(torch.zeros(D))
        self.pos = nn.Parameter(torch.zeros(T, D))
        self.names = {'proj.W': self.proj.weight, 'proj.b': self.proj.bias, 'mod': self.mod,
                      'cls': self.cls, 'pos': self.pos, 'lnf.g': self.lnf.weight,
                      'lnf.b': self.lnf.bias, 'head.W': self.head.weight, 'head.b': self.head.bias}
        for l, L in enumerate(self.layers):
            for ours, theirs in (('ln1.g', L.norm1.weight), ('ln1.b', L.norm1.bias),
                                 ('attn.Wqkv', L.self_attn.in_proj_weight),
                                 ('attn.bqkv', L.self_attn.in_proj_bias),
                                 ('attn.Wo', L.self_attn.out_proj.weight),
                                 ('attn.bo', L.self_attn.out_proj.bias),
                                 ('ln2.g', L.norm2.weight), ('ln2.b', L.norm2.bias),
                                 ('ffn.W1', L.linear1.weight), ('ffn.b1', L.linear1.bias),
                                 ('ffn.W2', L.linear2.weight), ('ffn.b2', L.linear2.bias)):
                self.names['blk%d.%s' % (l, ours)] = theirs

    def forward(self, x, lens):
        B, T1 = x.shape[0], self.pos.shape[0] + 1
        len1 = lens + 1
        valid = torch.arange(T1)[None, :] < len1[:, None]          # [B, T+1]
        h = self.proj(x) + self.mod + self.pos[None]
        z = torch.cat([self.cls.expand(B, 1, -1), h], 1)
        for L in self.layers:
            z = L(z, src_key_padding_mask=~valid)
        z = self.lnf(z)
        pooled = z[:, 0] + (z * valid[..., None]).sum(1) / len1[:, None]
        return self.head(pooled)


def main():
    base = sys.argv[1]
    t = read(base + '/in')
    torch.set_default_dtype(torch.float64)
    x = torch.tensor(t['x'], dtype=torch.float64)
    B, T, din = x.shape
    depth = sum(1 for k in t if k.endswith('.attn.Wqkv'))
    net = Encoder(din, T, t['proj.W'].shape[0], int(t['heads'][0]),
                  t['blk0.ffn.W1'].shape[0] if depth else 1, depth, t['head.W'].shape[0])
    with torch.no_grad():
        for k, p in net.names.items():
            p.copy_(torch.tensor(t[k]).reshape(p.shape))
    net.train()
    logits = net(x, torch.tensor(t['len'].astype(np.int64)))
    loss = F.cross_entropy(logits, torch.tensor(t['y'].astype(np.int64)))
    loss.backward()
    out = [('logits', logits.detach().numpy()), ('loss', [loss.item()])]
    out += [('grad.' + k, p.grad.numpy()) for k, p in net.names.items()]
    write(base + '/out', out)


if __name__ == '__main__':
    main()
