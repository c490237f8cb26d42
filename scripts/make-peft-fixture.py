#!/usr/bin/env python3
"""Writes tests/fixtures/peft-llama/: a tiny random Llama, a PEFT LoRA adapter on it, and the
logits that transformers/PEFT compute for both, so the Rust side can check that it loads a
Hugging Face base model plus a PEFT adapter folder and gets the same numbers.

What it makes (all float32, deterministic: fixed seeds, CPU):

    base/                 config.json, model.safetensors, generation_config.json
                          (transformers `save_pretrained(safe_serialization=True)`; tied
                          embeddings, so there is no lm_head tensor), plus tokenizer.json:
                          a WordLevel tokenizer "<unk>"=0, "</s>"=1, "w2".."w39"=2..39.
                          transformers 5 writes rope_theta inside "rope_parameters" (no
                          top-level "rope_theta" as transformers 4 did)
    adapter/              adapter_config.json, adapter_model.safetensors, README.md exactly
                          as PEFT `save_pretrained` writes them (r=4, alpha=8, the seven Llama
                          projections listed by name; init_lora_weights=False, so lora_B is
                          random rather than zero and the adapter moves the logits by several
                          units without any rescaling)
    adapter-all-linear/   the same adapter_model.safetensors with an adapter_config.json whose
                          "target_modules" is the string "all-linear"
    adapter-regex/        the same, with "target_modules" a regex string (only if PEFT
                          expands "all-linear" to a list on save, which it does in the versions
                          below, so the all-linear config is a hand-edited copy)
    logits.json           versions, input_ids (3 sequences, no BOS), base_logits and
                          peft_logits ([seq][pos][40], float32 rounded to 7 significant
                          digits), max_abs_diff_peft_vs_base

PEFT writes target_modules from a Python set, so its order follows string hashing: the script
re-runs itself with PYTHONHASHSEED=0 to make adapter_config.json byte-for-byte reproducible.

The PEFT logits come from `PeftModel.from_pretrained(base, "adapter")` in eval mode, a plain
forward pass over the whole sequence, no padding, no merge. The script also checks that
`merge_and_unload()` and the two alternative configs give the same logits.

Not run by CI. To regenerate (needs torch, transformers, peft, safetensors; CPU is enough):

    python3 -m venv /tmp/torchref
    /tmp/torchref/bin/pip install torch transformers peft gguf accelerate safetensors
    /tmp/torchref/bin/python scripts/make-peft-fixture.py

The committed output was made with Python 3.11.7, torch 2.15.0 (CPU), transformers 5.25.0,
peft 0.21.2, safetensors 0.8.0 (gguf 0.19.0 installed alongside); logits.json records them.
"""

import json
import os
import pathlib
import platform
import shutil
import sys
from importlib.metadata import version

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "peft-llama"

VOCAB = 40
WEIGHT_STD = 0.4
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
REGEX_TARGETS = r".*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
INPUT_IDS = [
    [5, 17, 2, 33, 9],
    [12, 39, 7, 7, 21, 3, 28],
    [30, 4, 19, 26, 11, 38, 2, 15, 8],
]
MERGE_TOLERANCE = 1e-5
MIN_ADAPTER_EFFECT = 1e-2


def llama_config():
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        intermediate_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        eos_token_id=1,
        bos_token_id=None,
    )


def tokenizer_json():
    vocab = {"<unk>": 0, "</s>": 1}
    vocab.update({f"w{i}": i for i in range(2, VOCAB)})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }


def make_base(base_dir):
    torch.manual_seed(0)
    model = LlamaForCausalLM(llama_config()).to(torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                # RMSNorm gains: around 1, not all equal.
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, WEIGHT_STD)
    model.save_pretrained(base_dir, safe_serialization=True)
    (base_dir / "tokenizer.json").write_text(json.dumps(tokenizer_json()) + "\n", encoding="utf-8")


def load_base():
    # Relative path, so adapter_config.json records "base" and no machine path.
    model = LlamaForCausalLM.from_pretrained("base", dtype=torch.float32)
    return model.eval()


def logits_of(model):
    out = []
    with torch.no_grad():
        for ids in INPUT_IDS:
            x = torch.tensor([ids], dtype=torch.long)
            out.append(model(input_ids=x, attention_mask=torch.ones_like(x)).logits[0].float())
    return out


def max_abs_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def rounded(logits):
    return [[[float(f"{v:.7g}") for v in row] for row in t.tolist()] for t in logits]


def make_adapter(adapter_dir):
    torch.manual_seed(1)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules=TARGETS,
        init_lora_weights=False,  # B non-zero
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(load_base(), config)
    model.save_pretrained(adapter_dir, safe_serialization=True)


def peft_logits(adapter_dir):
    model = PeftModel.from_pretrained(load_base(), str(adapter_dir)).eval()
    return logits_of(model)


def make_variant(adapter_dir, variant_dir, target_modules):
    variant_dir.mkdir()
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    config["target_modules"] = target_modules
    (variant_dir / "adapter_config.json").write_text(
        json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    shutil.copyfile(adapter_dir / "adapter_model.safetensors", variant_dir / "adapter_model.safetensors")


def saved_all_linear_config(tmp_dir):
    """What PEFT writes for target_modules="all-linear" (a string, or an expanded list)."""
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear",
                        init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(load_base(), config).save_pretrained(tmp_dir, safe_serialization=True)
    saved = json.loads((tmp_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return saved["target_modules"]


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Fixed set order, so PEFT's target_modules list comes out the same every run.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    os.chdir(OUT)
    base_dir, adapter_dir = pathlib.Path("base"), pathlib.Path("adapter")

    make_base(base_dir)
    base = logits_of(load_base())

    make_adapter(adapter_dir)
    peft = peft_logits(adapter_dir)
    diff = max_abs_diff(peft, base)
    print(f"max |peft - base| = {diff:.6g}")
    if diff <= MIN_ADAPTER_EFFECT:
        sys.exit(f"adapter barely changes the logits ({diff})")

    merged = PeftModel.from_pretrained(load_base(), str(adapter_dir)).eval().merge_and_unload()
    merge_diff = max_abs_diff(logits_of(merged), peft)
    print(f"max |merged - peft| = {merge_diff:.3g}")
    if merge_diff > MERGE_TOLERANCE:
        sys.exit(f"merge_and_unload logits differ from PEFT logits by {merge_diff}")

    tmp = pathlib.Path("_all_linear_probe")
    saved = saved_all_linear_config(tmp)
    shutil.rmtree(tmp)
    variants = {"adapter-all-linear": "all-linear"}
    if saved == "all-linear":
        print('PEFT keeps target_modules="all-linear" on save')
    else:
        print(f'PEFT expands "all-linear" on save to {sorted(saved)}; hand-editing copies')
        variants["adapter-regex"] = REGEX_TARGETS
    for name, targets in variants.items():
        make_variant(adapter_dir, pathlib.Path(name), targets)
        vdiff = max_abs_diff(peft_logits(pathlib.Path(name)), peft)
        print(f"max |{name} - adapter| = {vdiff:.3g}")
        if vdiff != 0.0:
            sys.exit(f"{name} does not give the adapter's logits")

    versions = {"python": platform.python_version()}
    versions.update({m: version(m) for m in ["torch", "transformers", "peft", "safetensors", "gguf"]})
    fixture = {
        "versions": versions,
        "input_ids": INPUT_IDS,
        "max_abs_diff_peft_vs_base": float(f"{diff:.7g}"),
        "max_abs_diff_merged_vs_peft": float(f"{merge_diff:.7g}"),
        "base_logits": rounded(base),
        "peft_logits": rounded(peft),
    }
    pathlib.Path("logits.json").write_text(json.dumps(fixture) + "\n", encoding="utf-8")

    total = sum(p.stat().st_size for p in pathlib.Path(".").rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
