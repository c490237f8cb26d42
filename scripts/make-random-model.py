#!/usr/bin/env python3
"""A Hugging Face folder of a Llama-family model with random weights: the configuration and
tokenizer of a real one (its `config.json`, `tokenizer.json`, `tokenizer_config.json`), weights
drawn by transformers' own initialisation (seeded). Speed does not depend on the weights' values,
so this stands in for the real model where its weights cannot travel (the GPU checks,
scripts/gpu-check.sh).

    python3 scripts/make-random-model.py SOURCE_DIR OUT_DIR     (needs torch and transformers)
"""
import os
import shutil
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM

src, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
config = AutoConfig.from_pretrained(src)
config.dtype = torch.float32
model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
os.makedirs(out, exist_ok=True)
model.save_pretrained(out, safe_serialization=True)
for name in ("tokenizer.json", "tokenizer_config.json"):
    if os.path.exists(os.path.join(src, name)):
        shutil.copy(os.path.join(src, name), out)
print(f"{out}: {sum(p.numel() for p in model.parameters()):,} random parameters of {config.architectures}")
