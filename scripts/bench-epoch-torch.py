#!/usr/bin/env python3
"""PyTorch + PEFT baseline for `tunedesk bench epoch`: one epoch over exactly the same tokens.

    tunedesk bench epoch --model $G --dataset banking77 --limit 1000 --dump /tmp/epoch.jsonl
    python scripts/bench-epoch-torch.py --model HF_FOLDER --batches /tmp/epoch.jsonl

HF_FOLDER: the same weights as float32 (shared/reference/make_hf_folder.py from the GGUF).
The dump holds TuneDesk's batches in its order (`batch`, `input_ids`, `completion_start`):
this script trains them as they are, with TuneDesk's default settings (LoRA r 16, alpha 32,
dropout 0.05 on all seven projections; AdamW lr 5e-4, weight decay 0.01; cosine after 5 %
warmup; gradient norm clipped at 1), each batch right-padded to its longest row with an
attention mask and the loss on the completion tokens only (labels -100 elsewhere), as
transformers' DataCollatorForSeq2Seq pads. Prints one JSON object: seconds for the epoch
(model load excluded), rows/s, tokens/s (real tokens, as TuneDesk counts them), the mean loss
of the first and last 10 steps, peak RSS, and the CPU other processes used meanwhile.
`--device cuda` trains on the GPU (float32, as TuneDesk; `loss.item()` waits for each step).
"""
import argparse
import json
import math
import os
import resource
import time
from collections import OrderedDict


def busy_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batches", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (TuneDesk's `bench epoch --device`)")
    ap.add_argument("--pad", type=int, default=2, help="padding id (TuneDesk pads with EOS)")
    ap.add_argument("--random-batches", action="store_true",
                    help="regroup the rows into random batches of the same size, as transformers' "
                         "Trainer does by default (no length grouping)")
    args = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    batches = OrderedDict()
    with open(args.batches) as f:
        for line in f:
            r = json.loads(line)
            batches.setdefault(r["batch"], []).append(r)
    if args.random_batches:
        import random
        rows = [r for b in batches.values() for r in b]
        size = max(len(b) for b in batches.values())
        random.Random(42).shuffle(rows)
        batches = OrderedDict((k, rows[i:i + size]) for k, i in enumerate(range(0, len(rows), size)))
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).to(args.device)
    model = get_peft_model(model, LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
    steps = len(batches)
    warmup = math.ceil(0.05 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warmup if s < warmup else
                                              0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))))
    tensors = []
    tokens = 0
    for rows in batches.values():
        t = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), t), args.pad, dtype=torch.long)
        labels = torch.full((len(rows), t), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), t), dtype=torch.long)
        for i, r in enumerate(rows):
            n, cs = len(r["input_ids"]), r["completion_start"]
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, cs:n] = ids[i, cs:n]
            mask[i, :n] = 1
            tokens += n
        tensors.append((ids.to(args.device), labels.to(args.device), mask.to(args.device)))

    losses = []
    b0, c0, w0 = busy_seconds(), time.process_time(), time.perf_counter()
    for ids, labels, mask in tensors:
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    secs = time.perf_counter() - w0
    foreign = max(0.0, busy_seconds() - b0 - (time.process_time() - c0))
    rows = sum(len(ids) for ids, _, _ in tensors)
    padded = sum(ids.numel() for ids, _, _ in tensors)
    mean = lambda v: sum(v) / max(1, len(v))
    print(json.dumps({
        "bench": "epoch-torch", "random_batches": args.random_batches, "rows": rows, "steps": steps, "seconds": secs,
        "rows_per_s": rows / secs, "tokens": tokens, "padded_tokens": padded, "tokens_per_s": tokens / secs,
        "mean_loss_first_10": mean(losses[:10]), "mean_loss_last_10": mean(losses[-10:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "foreign_cpu_frac": foreign / (secs * (os.cpu_count() or 1)),
        "torch": torch.__version__, "threads": args.threads, "device": args.device,
    }))


if __name__ == "__main__":
    main()
