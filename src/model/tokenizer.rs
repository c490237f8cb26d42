//! Tokenizers: `tokenizer.json` through the `tokenizers` crate, or the exact byte-level BPE
//! rebuilt from a GGUF file's `tokenizer.ggml.*` metadata. (candle's GGUF tokenizer builder
//! adds a prefix space, which is wrong for SmolLM2: "Hello" → "ĠHello".)

use super::ModelError;
use candle_core::quantized::gguf_file;
use serde_json::json;

/// Pre-tokenizer regex of Llama 3 (`tokenizer.ggml.pre` = llama-bpe).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Pre-tokenizer regex of Qwen2 (`tokenizer.ggml.pre` = qwen2).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token type of ordinary vocabulary entries.
const TOKEN_TYPE_NORMAL: i64 = 1;
/// GGUF token type of padding entries beyond the tokenizer's vocabulary.
const TOKEN_TYPE_UNUSED: i64 = 5;
/// GGUF token type of control tokens (`<|im_start|>`, …).
const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF token type of user-defined added tokens.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// A tokenizer plus the special-token facts generation needs.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Prepended to every encoded prompt when the model wants it.
    pub bos: Option<u32>,
    /// Whether to prepend `bos`.
    pub add_bos: bool,
    /// The model's chat template (Jinja), if it has one.
    pub chat_template: Option<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab", &self.inner.get_vocab_size(true))
            .field("bos", &self.bos)
            .finish()
    }
}

fn tok_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Tokenizer(e.to_string())
}

/// The pre-tokenizer (`tokenizers` JSON) of a GGUF file's `tokenizer.ggml.pre`.
fn gguf_pre_tokenizer(pre: &str) -> Result<serde_json::Value, ModelError> {
    Ok(match pre {
        "smollm" | "gpt2" | "default" | "starcoder" => {
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": pre == "smollm" || pre == "starcoder"},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
            ]})
        }
        "llama-bpe" | "llama3" | "qwen2" => {
            let regex = if pre == "qwen2" {
                QWEN2_SPLIT
            } else {
                LLAMA3_SPLIT
            };
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
            ]})
        }
        other => {
            return Err(tok_err(format!(
                "GGUF pre-tokenizer '{other}' is not supported; use the model's Hugging Face folder"
            )))
        }
    })
}

/// The added tokens (`tokenizers` JSON) of a GGUF vocabulary: control tokens (special) and
/// user-defined ones.
fn gguf_added_tokens(tokens: &[String], types: &[i64]) -> Vec<serde_json::Value> {
    tokens
        .iter()
        .zip(types)
        .enumerate()
        .filter(|(_, (_, t))| **t == TOKEN_TYPE_CONTROL || **t == TOKEN_TYPE_USER_DEFINED)
        .map(|(i, (content, t))| {
            json!({"id": i, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": *t == TOKEN_TYPE_CONTROL})
        })
        .collect()
}

impl Tokenizer {
    /// Loads a `tokenizer.json` (with `tokenizer_config.json` beside it for the chat template
    /// and BOS handling, when present).
    pub fn from_hf_dir(dir: &std::path::Path) -> Result<Tokenizer, ModelError> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            return Err(ModelError::MissingFile(path));
        }
        let inner = tokenizers::Tokenizer::from_file(&path).map_err(tok_err)?;
        let cfg: serde_json::Value = std::fs::read_to_string(dir.join("tokenizer_config.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let chat_template = cfg["chat_template"]
            .as_str()
            .map(str::to_string)
            .or_else(|| std::fs::read_to_string(dir.join("chat_template.jinja")).ok());
        let bos = cfg["bos_token"]
            .as_str()
            .or_else(|| cfg["bos_token"]["content"].as_str())
            .and_then(|t| inner.token_to_id(t));
        Ok(Tokenizer {
            inner,
            bos,
            add_bos: cfg["add_bos_token"].as_bool().unwrap_or(false),
            chat_template,
        })
    }

    /// Rebuilds the byte-level BPE tokenizer stored in GGUF metadata.
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Tokenizer, ModelError> {
        let md = &content.metadata;
        let get = |k: &str| {
            md.get(k)
                .ok_or_else(|| tok_err(format!("GGUF metadata lacks {k}")))
        };
        let model = get("tokenizer.ggml.model")?
            .to_string()
            .map_err(tok_err)?
            .clone();
        if model != "gpt2" {
            return Err(tok_err(format!(
                "GGUF tokenizer model '{model}' is not supported (only byte-level BPE, 'gpt2'); use the model's Hugging Face folder"
            )));
        }
        let pre = md
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_else(|| "default".into());
        let strings = |k: &str| -> Result<Vec<String>, ModelError> {
            get(k)?
                .to_vec()
                .map_err(tok_err)?
                .iter()
                .map(|v| v.to_string().cloned().map_err(tok_err))
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<i64> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(tok_err)?
                .iter()
                .map(|t| t.to_i32().map(i64::from).map_err(tok_err))
                .collect::<Result<_, _>>()?,
            None => vec![1; tokens.len()],
        };
        let pre_tokenizer = gguf_pre_tokenizer(&pre)?;
        let vocab: serde_json::Map<String, serde_json::Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), json!(i)))
            .collect();
        let added = gguf_added_tokens(&tokens, &types);
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                      "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": pre != "smollm" && pre != "gpt2" && pre != "default" && pre != "starcoder",
                      "vocab": vocab, "merges": merges}
        });
        let inner: tokenizers::Tokenizer = spec.to_string().parse().map_err(tok_err)?;
        let bos = md
            .get("tokenizer.ggml.bos_token_id")
            .and_then(|v| v.to_u32().ok());
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(false);
        let chat_template = md
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok().cloned());
        Ok(Tokenizer {
            inner,
            bos,
            add_bos,
            chat_template,
        })
    }

    /// Token ids of `text` (special tokens written in the text are recognised; BOS is
    /// prepended when the model wants it).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self.inner.encode(text, false).map_err(tok_err)?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if let (true, Some(bos)) = (self.add_bos, self.bos) {
            ids.push(bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Token ids of `text` without BOS (for continuations).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// The text of `ids` (special tokens kept, so decoding round-trips).
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner.decode(ids, false).map_err(tok_err)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token string of `id`, if it is in the vocabulary.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The tokenizer as a `tokenizer.json` (for a GGUF base, the rebuilt BPE in that form).
    pub fn to_json(&self) -> Result<String, ModelError> {
        self.inner.to_string(true).map_err(tok_err)
    }

    /// A `tokenizer_config.json` that makes `transformers` treat [`Tokenizer::to_json`]'s file
    /// as this model's tokenizer (special tokens, BOS handling, chat template).
    pub fn hf_config(&self, config: &super::Config) -> serde_json::Value {
        let name = |id: Option<u32>| id.and_then(|i| self.token(i));
        json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": name(self.bos),
            "eos_token": name(config.eos_token_ids.first().copied()),
            "add_bos_token": self.add_bos,
            "add_eos_token": false,
            "clean_up_tokenization_spaces": false,
            "model_max_length": config.max_position_embeddings,
            "chat_template": self.chat_template,
        })
    }

    /// The `tokenizer.ggml.*` metadata llama.cpp rebuilds this tokenizer from (the inverse of
    /// [`Tokenizer::from_gguf`]): byte-level BPE only, its pre-tokenizer one llama.cpp names;
    /// the vocabulary padded to the model's embedding rows as `convert_hf_to_gguf.py` does.
    pub fn gguf_metadata(
        &self,
        config: &super::Config,
    ) -> Result<Vec<(String, gguf_file::Value)>, ModelError> {
        use gguf_file::Value;
        let spec: serde_json::Value = serde_json::from_str(&self.to_json()?).map_err(tok_err)?;
        let unsupported = || {
            tok_err("only byte-level BPE tokenizers with a pre-tokenizer llama.cpp knows (SmolLM2, Qwen2, Llama 3, GPT-2) can be written to GGUF; export the merged folder and convert it with llama.cpp's convert_hf_to_gguf.py")
        };
        if spec["model"]["type"] != "BPE" || spec["model"]["byte_fallback"] == true {
            return Err(unsupported());
        }
        let theirs = pre_signature(&spec["pre_tokenizer"]);
        let pre = ["smollm", "qwen2", "llama-bpe", "gpt2"]
            .into_iter()
            .find(|name| gguf_pre_tokenizer(name).is_ok_and(|p| pre_signature(&p) == theirs))
            .ok_or_else(unsupported)?;
        let vocab = self.inner.get_vocab(true);
        if vocab.len() > config.vocab_size {
            return Err(tok_err(format!(
                "the tokenizer has {} tokens, more than the model's {} embedding rows",
                vocab.len(),
                config.vocab_size
            )));
        }
        let mut tokens: Vec<String> = (0..config.vocab_size)
            .map(|i| format!("[PAD{i}]"))
            .collect();
        let mut types = vec![TOKEN_TYPE_UNUSED; config.vocab_size];
        for (token, id) in vocab {
            tokens[id as usize] = token;
            types[id as usize] = TOKEN_TYPE_NORMAL;
        }
        for (id, added) in self.inner.get_added_tokens_decoder() {
            types[id as usize] = if added.special {
                TOKEN_TYPE_CONTROL
            } else {
                TOKEN_TYPE_USER_DEFINED
            };
        }
        let merges: Vec<Value> = spec["model"]["merges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| match m {
                serde_json::Value::Array(pair) => Value::String(format!(
                    "{} {}",
                    pair[0].as_str().unwrap_or_default(),
                    pair.get(1).and_then(|p| p.as_str()).unwrap_or_default()
                )),
                other => Value::String(other.as_str().unwrap_or_default().to_string()),
            })
            .collect();
        let mut md = vec![
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.pre", Value::String(pre.into())),
            (
                "tokenizer.ggml.tokens",
                Value::Array(tokens.into_iter().map(Value::String).collect()),
            ),
            (
                "tokenizer.ggml.token_type",
                Value::Array(types.into_iter().map(|t| Value::I32(t as i32)).collect()),
            ),
            ("tokenizer.ggml.merges", Value::Array(merges)),
            (
                "tokenizer.ggml.eos_token_id",
                Value::U32(config.eos_token()),
            ),
            ("tokenizer.ggml.add_bos_token", Value::Bool(self.add_bos)),
        ];
        if let Some(bos) = self.bos {
            md.push(("tokenizer.ggml.bos_token_id", Value::U32(bos)));
        }
        if let Some(t) = &self.chat_template {
            md.push(("tokenizer.chat_template", Value::String(t.clone())));
        }
        Ok(md.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}

/// What a pre-tokenizer does, for comparing a `tokenizer.json`'s with the ones llama.cpp names:
/// its steps in order (type, digit splitting, split regex), formatting details ignored. A
/// `Digits` step that keeps digit runs together is dropped: byte-level BPE's own regex already
/// separates them.
fn pre_signature(p: &serde_json::Value) -> Vec<String> {
    let steps: Vec<&serde_json::Value> = match p["pretokenizers"].as_array() {
        Some(list) => list.iter().collect(),
        None => vec![p],
    };
    steps
        .into_iter()
        .filter(|s| !(s["type"] == "Digits" && s["individual_digits"] == false))
        .map(|s| match s["type"].as_str() {
            Some("Split") => format!("Split {}", s["pattern"]["Regex"]),
            Some("Digits") => "Digits individual".into(),
            other => other.unwrap_or("none").to_string(),
        })
        .collect()
}
