#!/usr/bin/env python3
"""Logits of the Hugging Face transformers Chameleon implementation for a token sequence, compared with the engine's.

usage: peer_logits.py MODEL_DIR TOKENS_CSV ENGINE_LOGITS.npy
Prints one line: max |difference| and the relative error over the non-image vocabulary (the stock HF class masks image
tokens to -inf, Lumina does not), and whether the top-10 ids agree. Exit code 1 when they disagree.
The checkpoint must use HF's qk-norm layout ([heads, head_dim]); the engine reads both layouts.
"""
import sys

import numpy as np
import torch
from transformers import ChameleonForConditionalGeneration

model_dir, tokens_csv, engine_npy = sys.argv[1:4]
model = ChameleonForConditionalGeneration.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
ids = torch.tensor([[int(t) for t in tokens_csv.split(",")]])
with torch.no_grad():
    logits = model(input_ids=ids).logits[0, -1].float().numpy()
ours = np.load(engine_npy)
keep = np.ones(ours.shape[0], dtype=bool)
keep[np.asarray(model.model.vocabulary_mapping.image_tokens)] = False
diff = np.abs(logits[keep] - ours[keep])
rel = diff.max() / max(np.abs(logits[keep]).max(), 1e-9)
top_hf = np.argsort(-np.where(keep, logits, -np.inf))[:10]
top_ours = np.argsort(-np.where(keep, ours, -np.inf))[:10]
same_top = bool((top_hf == top_ours).all())
print(f"max |diff| {diff.max():.3e}, relative {rel:.3e}, top-10 ids {'agree' if same_top else 'differ'}")
sys.exit(0 if rel < 1e-3 and same_top else 1)
