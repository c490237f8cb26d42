#!/usr/bin/env python3
"""PEFT round trip of a TuneDesk export (outside CI; figures in docs/RESULTS.md).

Loads the base model's Hugging Face folder with transformers, the exported PEFT folder with
`PeftModel.from_pretrained`, and compares the next-token logits at the end of each prompt with
TuneDesk's own (written by `cargo run --release --example run_logits -- RUN N DIR`). Also checks
that the Hugging Face tokenizer gives TuneDesk's token ids, and, given a merged export folder,
that transformers loads it and gives the same logits as PEFT on the base.

usage: python check-peft-export.py HF_BASE PEFT_DIR LOGITS_DIR [MERGED_DIR]
(needs torch, transformers, peft; e.g. the reference venv of shared/reference/README.md)
"""
import json, sys
import numpy as np
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

base_dir, peft_dir, logits_dir = sys.argv[1:4]
merged_dir = sys.argv[4] if len(sys.argv) > 4 else None
meta = json.load(open(f"{logits_dir}/prompts.json"))
ours = np.fromfile(f"{logits_dir}/logits.f32", dtype="<f4").reshape(len(meta["ids"]), -1)

tok = AutoTokenizer.from_pretrained(base_dir)
same_ids = sum(tok(p, add_special_tokens=False)["input_ids"] == ids for p, ids in zip(meta["prompts"], meta["ids"]))


def last_logits(model):
    out = []
    with torch.no_grad():
        for ids in meta["ids"]:
            out.append(model(torch.tensor([ids])).logits[0, -1].float().numpy())
    return np.stack(out)


base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
peft = PeftModel.from_pretrained(base, peft_dir).eval()
theirs = last_logits(peft)
report = {
    "prompts": len(meta["ids"]),
    "hf_tokenizer_same_ids": int(same_ids),
    "peft_vs_tunedesk_max_abs_logit_diff": float(np.abs(theirs - ours).max()),
    "peft_vs_tunedesk_same_argmax": int((theirs.argmax(1) == ours.argmax(1)).sum()),
}
with peft.disable_adapter():
    plain = last_logits(peft)
report["adapter_effect_max_abs_logit_diff"] = float(np.abs(theirs - plain).max())
if merged_dir:
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    m = last_logits(merged)
    report["merged_vs_peft_max_abs_logit_diff"] = float(np.abs(m - theirs).max())
    report["merged_tokenizer_same_ids"] = int(sum(
        AutoTokenizer.from_pretrained(merged_dir)(p, add_special_tokens=False)["input_ids"] == ids
        for p, ids in zip(meta["prompts"], meta["ids"])))
print(json.dumps(report, indent=2))
