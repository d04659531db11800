//! CLIP (open_clip ViT, image and text towers) and its BPE tokenizer. Being ported.
