#!/usr/bin/env python3
"""Dev-only: PyTorch eager timing of MMAudio's flow network, for the side-by-side ratio in
BENCHMARKS.md (`## Flow network`). Never used at run time.

The network is rebuilt here from its description (same layers, widths and op order as
MMAudio's networks.py / transformer_layers.py, no einops) with random weights, so no
checkpoint is needed. Usage (venv at /root/.cache/foley/venv, torch from PyPI):

    python scripts/dev/mmaudio_timing.py --config small_16k --duration 8 --batch 1 2 --reps 5
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

RELEASED = {  # latent_dim, heads, depth, fused_depth, v2, latent_rate (tokens / s)
    "small_16k": (20, 7, 12, 8, False, 16000 / 256 / 2),
    "small_44k": (40, 7, 12, 8, False, 44100 / 512 / 2),
    "medium_44k": (40, 14, 12, 8, False, 44100 / 512 / 2),
    "large_44k": (40, 14, 21, 14, False, 44100 / 512 / 2),
    "large_44k_v2": (40, 14, 21, 14, True, 44100 / 512 / 2),
}


def swiglu_hidden(hidden):
    h = int(2 * hidden / 3)
    return 256 * ((h + 255) // 256)


class Conv(nn.Conv1d):
    """Same-padded conv on (B, N, C)."""

    def __init__(self, cin, cout, k, bias=True):
        super().__init__(cin, cout, k, padding=k // 2, bias=bias)

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden, k):
        super().__init__()
        h = swiglu_hidden(hidden)
        make = (lambda a, b: nn.Linear(a, b, bias=False)) if k == 1 else (lambda a, b: Conv(a, b, k, bias=False))
        self.w1, self.w2, self.w3 = make(dim, h), make(h, dim), make(dim, h)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def rope_table(n, d, scale):
    freqs = 1.0 / (10000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d)) * scale
    a = torch.arange(n, dtype=torch.float32)[:, None] * freqs
    rot = torch.stack([torch.cos(a), -torch.sin(a), torch.sin(a), torch.cos(a)], -1)
    return rot.view(1, n, d // 2, 2, 2)


def apply_rope(x, rot):
    xf = x.float().view(*x.shape[:-1], -1, 1, 2)
    out = rot[..., 0] * xf[..., 0] + rot[..., 1] * xf[..., 1]
    return out.reshape(*x.shape).to(x.dtype)


class Block(nn.Module):
    def __init__(self, dim, heads, k, pre_only=False):
        super().__init__()
        self.heads, self.pre_only = heads, pre_only
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm, self.k_norm = nn.RMSNorm(dim // heads), nn.RMSNorm(dim // heads)
        self.ada = nn.Linear(dim, (2 if pre_only else 6) * dim)
        if not pre_only:
            self.linear1 = nn.Linear(dim, dim) if k == 1 else Conv(dim, dim, k)
            self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
            self.ffn = SwiGLU(dim, 4 * dim, k)

    def pre(self, x, c, rot):
        mod = self.ada(F.silu(c)).chunk(2 if self.pre_only else 6, -1)
        x = self.norm1(x) * (1 + mod[1]) + mod[0]
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, self.heads, d // self.heads, 3).permute(4, 0, 2, 1, 3)
        q, k, v = self.q_norm(qkv[0]), self.k_norm(qkv[1]), qkv[2]
        if rot is not None:
            q, k = apply_rope(q, rot), apply_rope(k, rot)
        return (q, k, v), mod

    def post(self, x, out, mod):
        if self.pre_only:
            return x
        x = x + self.linear1(out) * mod[2]
        return x + self.ffn(self.norm2(x) * (1 + mod[4]) + mod[3]) * mod[5]


def attend(q, k, v):
    out = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous())
    b, h, n, d = out.shape
    return out.transpose(1, 2).reshape(b, n, h * d)


class Net(nn.Module):
    def __init__(self, name, duration):
        super().__init__()
        lat, heads, depth, fused, v2, rate = RELEASED[name]
        d = 64 * heads
        self.n = math.ceil(duration * rate)
        self.nc, self.ns = int(duration * 8), ((int(duration * 25) - 16) // 8 + 1) * 8
        act = nn.SiLU() if v2 else nn.SELU()
        self.audio = nn.Sequential(Conv(lat, d, 7), act, SwiGLU(d, 4 * d, 7))
        self.clip = nn.Sequential(nn.Linear(1024, d), *([nn.SiLU()] if v2 else []), SwiGLU(d, 4 * d, 3))
        self.sync = nn.Sequential(Conv(768, d, 7), act, SwiGLU(d, 4 * d, 3))
        self.text = nn.Sequential(nn.Linear(1024, d), *([nn.SiLU()] if v2 else []), SwiGLU(d, 4 * d, 1))
        self.clip_c, self.text_c, self.glob = nn.Linear(d, d), nn.Linear(d, d), SwiGLU(d, 4 * d, 1)
        self.sync_pos = nn.Parameter(torch.randn(1, 1, 8, 768) * 0.02)
        self.freq_dim = d if v2 else 256
        self.t_mlp = nn.Sequential(nn.Linear(self.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        freqs = 1.0 / (10000 ** (torch.arange(0, self.freq_dim, 2, dtype=torch.float32) / self.freq_dim))
        self.register_buffer("t_freqs", freqs * (10000 / (1 if v2 else 10000)), persistent=False)
        nj = depth - fused
        self.joint = nn.ModuleList(
            nn.ModuleList([Block(d, heads, 3), Block(d, heads, 3, i == nj - 1), Block(d, heads, 1, i == nj - 1)]) for i in range(nj)
        )
        self.fused = nn.ModuleList(Block(d, heads, 3) for _ in range(fused))
        self.final_ada, self.final_norm = nn.Linear(d, 2 * d), nn.LayerNorm(d, elementwise_affine=False)
        self.final_conv = Conv(d, lat, 7)
        self.register_buffer("latent_rot", rope_table(self.n, 64, 1.0), persistent=False)
        self.register_buffer("clip_rot", rope_table(self.nc, 64, self.n / self.nc), persistent=False)

    def forward(self, latent, clip_f, sync_f, text_f, t):
        b = clip_f.shape[0]
        sync_f = (sync_f.view(b, -1, 8, sync_f.shape[-1]) + self.sync_pos).flatten(1, 2)
        clip_f, sync_f, text_f = self.clip(clip_f), self.sync(sync_f), self.text(text_f)
        sync_f = F.interpolate(sync_f.transpose(1, 2), size=self.n, mode="nearest-exact").transpose(1, 2)
        glob = self.glob(self.clip_c(clip_f.mean(1)) + self.text_c(text_f.mean(1)))
        args = t[:, None].float() * self.t_freqs[None]
        temb = self.t_mlp(torch.cat([torch.cos(args), torch.sin(args)], -1).to(t.dtype))
        global_c = (temb + glob).unsqueeze(1)
        ext_c = global_c + sync_f
        x = self.audio(latent)
        for lb, cb, tb in self.joint:
            xq, xm = lb.pre(x, ext_c, self.latent_rot)
            cq, cm = cb.pre(clip_f, global_c, self.clip_rot)
            tq, tm = tb.pre(text_f, global_c, None)
            out = attend(*[torch.cat([xq[i], cq[i], tq[i]], 2) for i in range(3)])
            n, nc = x.shape[1], clip_f.shape[1]
            x = lb.post(x, out[:, :n], xm)
            clip_f, text_f = cb.post(clip_f, out[:, n : n + nc], cm), tb.post(text_f, out[:, n + nc :], tm)
        for blk in self.fused:
            q, m = blk.pre(x, ext_c, self.latent_rot)
            x = blk.post(x, attend(*q), m)
        shift, scale = self.final_ada(F.silu(global_c)).chunk(2, -1)
        return self.final_conv(self.final_norm(x) * (1 + scale) + shift)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="small_16k", choices=RELEASED)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="also time under CPU bf16 autocast")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = Net(args.config, args.duration).eval()
    print(f"torch {torch.__version__}, {args.threads} threads, {sum(p.numel() for p in net.parameters()) / 1e6:.1f}M params")
    lat = RELEASED[args.config][0]
    for bf16 in [False, True] if args.bf16 else [False]:
        for b in args.batch:
            inputs = (
                torch.randn(b, net.n, lat), torch.randn(b, net.nc, 1024), torch.randn(b, net.ns, 768),
                torch.randn(b, 77, 1024), torch.full((b,), 0.5),
            )
            times = []
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                net(*inputs)
                for _ in range(args.reps):
                    start = time.perf_counter()
                    net(*inputs)
                    times.append(time.perf_counter() - start)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            dtype = "bf16-autocast" if bf16 else "f32"
            print(f"{args.config} {args.duration:g}s batch {b} {dtype}: forward median {statistics.median(times):.3f} s "
                  f"(min {min(times):.3f}), process peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
