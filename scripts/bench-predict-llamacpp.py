#!/usr/bin/env python3
"""llama.cpp predicting the same tickets as `tunedesk predict`, constrained by a GBNF grammar
to the run's labels and field names (the baseline of docs/PERFORMANCE.md's prediction table).

The model is the run exported as GGUF (`tunedesk export RUN --format gguf`), whose
`tunedesk.json` gives the prompt (`{ticket}` standing for the text), the labels and the fields.
Tickets are answered one after another, greedily, by llama-cpp-python (which keeps the key/value
cache of the prompt start the tickets share). Prints one JSON object: the batch's wall time
and tickets/s, the median time of one short ticket (the Try page's figure), and the answers'
agreement with TuneDesk's output CSV when `--compare` names it.

    pip install llama-cpp-python==0.3.36   # see shared/reference/llama-cpp-baseline.md
    python3 scripts/bench-predict-llamacpp.py --export DIR --input atis-1000.csv \
        --text-col text [--compare out.csv] [--threads 2]
"""

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

from llama_cpp import Llama, LlamaGrammar


def gbnf_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def grammar(labels, fields):
    """` label`, then optionally a blank line and `Name: value` lines, names from `fields`."""
    rules = ["root ::= \" \" label" + (" fields?" if fields else "")]
    rules.append("label ::= " + " | ".join(gbnf_string(l) for l in labels))
    if fields:
        rules.append('fields ::= "\\n\\n" field ("\\n" field)*')
        rules.append('field ::= name ": " [^\\n]+')
        rules.append("name ::= " + " | ".join(gbnf_string(f) for f in fields))
    return "\n".join(rules) + "\n"


def parse(text, fields):
    """The label and the `Name: value` lines of a completion."""
    head, _, rest = text.strip("\n").partition("\n\n")
    got = {}
    for line in rest.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name in fields and name not in got:
            got[name] = value.strip()
    return head.strip(), got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True, help="folder of `tunedesk export --format gguf`")
    ap.add_argument("--input", required=True)
    ap.add_argument("--text-col", default="text")
    ap.add_argument("--compare", help="TuneDesk's output CSV for the same input")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--try-text", default="i would like to book a flight from denver to pittsburgh "
                    "on thursday morning and return to denver on sunday evening please")
    ap.add_argument("--try-runs", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()

    export = Path(args.export)
    bundle = json.loads((export / "tunedesk.json").read_text())
    gguf = export / "model.gguf"  # the merged model (adapter.gguf is the LoRA alone)
    labels, fields = bundle["labels"], bundle["fields"]
    prompt = bundle["prompt"]
    g = LlamaGrammar.from_string(grammar(labels, fields), verbose=False)
    t = time.perf_counter()
    llm = Llama(model_path=str(gguf), n_ctx=1024, n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, verbose=False)
    load_s = time.perf_counter() - t

    def answer(text):
        out = llm(prompt.replace("{ticket}", text), grammar=g, max_tokens=args.max_tokens,
                  temperature=0.0, top_k=1)
        return out["choices"][0]["text"]

    answer(args.try_text)  # warm
    tries = []
    for _ in range(args.try_runs):
        t = time.perf_counter()
        answer(args.try_text)
        tries.append(time.perf_counter() - t)

    with open(args.input, newline="") as f:
        texts = [row[args.text_col] for row in csv.DictReader(f) if row[args.text_col].strip()]
    t = time.perf_counter()
    answers = [parse(answer(text), fields) for text in texts]
    batch_s = time.perf_counter() - t

    result = {
        "bench": "llama.cpp + GBNF", "gguf": gguf.name, "threads": args.threads,
        "load_s": round(load_s, 2), "tickets": len(texts), "seconds": round(batch_s, 2),
        "tickets_per_s": round(len(texts) / batch_s, 2),
        "try_median_ms": round(1000 * statistics.median(tries), 1),
        "try_max_ms": round(1000 * max(tries), 1),
    }
    if args.compare:
        with open(args.compare, newline="") as f:
            rows = list(csv.DictReader(f))
        same_label = same_fields = 0
        for (label, got), row in zip(answers, rows):
            same_label += label == row["predicted_label"]
            theirs = {n: row[f"predicted_{n}"] for n in fields if row.get(f"predicted_{n}")}
            same_fields += got == theirs
        result["same_label_as_tunedesk"] = f"{same_label}/{len(rows)}"
        result["same_fields_as_tunedesk"] = f"{same_fields}/{len(rows)}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
