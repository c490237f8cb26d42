#!/usr/bin/env python3
"""llama.cpp round trip of a TuneDesk GGUF export (outside CI; figures in docs/RESULTS.md).

For each validation prompt written by `cargo run --release --example run_logits -- RUN N DIR`
(prompts.json: the prompts, TuneDesk's own predicted labels and the label set), runs
llama.cpp's `llama-completion` on the exported model greedily, constrained by a GBNF grammar to
" ", one of the labels and the end of the line (as TuneDesk's decoder is), and counts the tickets where
llama.cpp picks TuneDesk's label. With --lora, the base GGUF is run with the GGUF adapter.

usage: python check-gguf-export.py LLAMA_BIN_DIR MODEL.gguf LOGITS_DIR [--lora ADAPTER.gguf]
"""
import json, subprocess, sys

bin_dir, model, logits_dir = sys.argv[1:4]
lora = sys.argv[sys.argv.index("--lora") + 1] if "--lora" in sys.argv else None
meta = json.load(open(f"{logits_dir}/prompts.json"))
# The label must end the line, as in TuneDesk's decoder: otherwise "atis_flight" could run on
# into "atis_flight_time" where TuneDesk stops.
gbnf = "root ::= \" \" ( " + " | ".join(json.dumps(l) for l in meta["label_set"]) + " ) \"\\n\"\n"
same, rows = 0, []
for prompt, want in zip(meta["prompts"], meta["labels"]):
    cmd = [f"{bin_dir}/llama-completion", "-m", model, "-p", prompt, "-n", "32", "--temp", "0",
           "--grammar", gbnf, "-t", "2", "-no-cnv", "--no-display-prompt", "--no-warmup"]
    if lora:
        cmd += ["--lora", lora]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    got = out.stdout.replace("[end of text]", "").strip()
    same += got == want
    rows.append({"tunedesk": want, "llama.cpp": got})
print(json.dumps({"model": model, "lora": lora, "tickets": len(rows), "same_label": same,
                  "differ": [r for r in rows if r["tunedesk"] != r["llama.cpp"]][:10]}, indent=2))
