#!/usr/bin/env python3
"""Checks a `tunedesk job export` folder with the target trainer's own code (outside CI; the
results are in docs/RESULTS.md): its config is accepted, and the trainer tokenizes every
training row into exactly `tokenizer(prompt) + tokenizer(completion) + [EOS]` with the labels
masking exactly the prompt tokens — what TuneDesk trains on.

    pip install --no-deps axolotl==0.19.0 llamafactory==0.9.5   # + the imports they ask for
    python3 scripts/check-handoff-tokens.py axolotl HANDOFF_DIR TOKENIZER_DIR
    DISABLE_VERSION_CHECK=1 python3 scripts/check-handoff-tokens.py llama-factory HANDOFF_DIR TOKENIZER_DIR

TOKENIZER_DIR: the base model as a Hugging Face folder on this machine (for SmolLM2, the one
`shared/reference/make_hf_folder.py` writes from the GGUF).
"""

import json
import os
import sys

import yaml


def expected(tok, prompt, completion):
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return p + c, [-100] * len(p) + c


def axolotl(folder, tokenizer_dir):
    from axolotl.prompt_strategies.user_defined import UserDefinedDatasetConfig, load
    from axolotl.utils.dict import DictDefault
    from axolotl.utils.schemas.config import AxolotlInputConfig
    from transformers import AutoTokenizer

    config = yaml.safe_load(open(os.path.join(folder, "axolotl.yml")))
    AxolotlInputConfig(**config)  # raises on a key or type Axolotl does not accept
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = DictDefault({"train_on_inputs": config["train_on_inputs"],
                       "sequence_len": config["sequence_len"]})
    strategy = load(tok, cfg, UserDefinedDatasetConfig(**config["datasets"][0]["type"]))
    rows = [json.loads(line) for line in open(os.path.join(folder, "data/train.jsonl"))]
    tokenized = [strategy.tokenize_prompt(r) for r in rows]
    return rows, tokenized, tok, ""


def llama_factory(folder, tokenizer_dir):
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams.parser import _parse_train_args
    from llamafactory.model import load_tokenizer

    os.chdir(folder)
    config = yaml.safe_load(open("llamafactory.yaml"))
    # This machine has no GPU: no bf16, and the base model from the local folder.
    config.update(bf16=False, model_name_or_path=tokenizer_dir, output_dir="/tmp/lf-check-out")
    model_args, data_args, training_args, _, _ = _parse_train_args(config)
    loaded = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(loaded["tokenizer"], data_args)
    data = get_dataset(template, model_args, data_args, training_args, stage="sft", **loaded)
    rows = [json.loads(line) for line in open("data/train.jsonl")]
    return rows, list(data["train_dataset"]), loaded["tokenizer"], loaded["tokenizer"].eos_token


def main():
    trainer, folder, tokenizer_dir = sys.argv[1:4]
    check = {"axolotl": axolotl, "llama-factory": llama_factory}[trainer]
    rows, tokenized, tok, eos_text = check(os.path.abspath(folder), os.path.abspath(tokenizer_dir))
    differ = 0
    for r, ex in zip(rows, tokenized):
        completion = r["completion"][: len(r["completion"]) - len(eos_text)]
        ids, labels = expected(tok, r["prompt"], completion)
        differ += ex["input_ids"] != ids or ex["labels"] != labels
    print(json.dumps({"trainer": trainer, "rows": len(rows), "tokenized": len(tokenized),
                      "differ": differ}))
    sys.exit(1 if differ or len(rows) != len(tokenized) else 0)


if __name__ == "__main__":
    main()
