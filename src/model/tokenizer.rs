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
}
