//! Recommended small base models. Each entry carries the dimensions of its published
//! `config.json`, so that parameter count, download size and the RAM estimate come from the
//! same functions a pull uses.

use super::{cached_snapshot, HubConfig, HubError, RepoId};
use crate::model::estimate::{param_count, training_ram_bytes, TrainShape};
use crate::model::Config;
use serde::Serialize;

/// One recommended model.
struct Entry {
    repo: &'static str,
    license: &'static str,
    gated: bool,
    /// The architecture keys of its config.json.
    config: &'static str,
}

const ENTRIES: &[Entry] = &[
    Entry {
        repo: "HuggingFaceTB/SmolLM2-135M-Instruct",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "tie_word_embeddings": true}"#,
    },
    Entry {
        repo: "HuggingFaceTB/SmolLM2-360M-Instruct",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 49152, "hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 15, "num_key_value_heads": 5, "tie_word_embeddings": true}"#,
    },
    Entry {
        repo: "Qwen/Qwen2.5-0.5B-Instruct",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "tie_word_embeddings": true}"#,
    },
    Entry {
        repo: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "tie_word_embeddings": false}"#,
    },
    Entry {
        repo: "meta-llama/Llama-3.2-1B-Instruct",
        license: "llama3.2",
        gated: true,
        config: r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "tie_word_embeddings": true}"#,
    },
    Entry {
        repo: "Qwen/Qwen2.5-1.5B-Instruct",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["Qwen2ForCausalLM"], "vocab_size": 151936, "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2, "tie_word_embeddings": true}"#,
    },
    Entry {
        repo: "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        license: "apache-2.0",
        gated: false,
        config: r#"{"architectures": ["LlamaForCausalLM"], "vocab_size": 49152, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": true}"#,
    },
];

/// A catalog row.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogModel {
    /// Repo id.
    pub repo: String,
    /// `llama` or `qwen2`.
    pub family: crate::model::Family,
    /// Parameter count.
    pub params: u64,
    /// Approximate download: the bf16 safetensors (2 bytes per parameter); `pull` shows the
    /// exact size before downloading.
    pub download_bytes: u64,
    /// License id on the model page.
    pub license: String,
    /// Needs an accepted license and a token.
    pub gated: bool,
    /// Estimated peak RAM of LoRA training at the training shape asked for.
    pub train_ram_bytes: u64,
    /// A complete snapshot of `main` is in the Hugging Face cache.
    pub cached: bool,
}

/// The recommended models, smallest first, with their cached state in `cfg`'s cache and their
/// training RAM at `shape` (the settings the user is about to train with).
pub fn catalog(cfg: &HubConfig, shape: TrainShape) -> Result<Vec<CatalogModel>, HubError> {
    ENTRIES
        .iter()
        .map(|e| {
            let config = Config::from_hf_json(e.config).expect("catalog configs parse");
            let params = param_count(&config);
            let repo = RepoId::parse(e.repo)?;
            Ok(CatalogModel {
                cached: cached_snapshot(cfg, &repo, "main")?.is_some(),
                repo: e.repo.to_string(),
                family: config.family,
                params,
                download_bytes: params * 2,
                license: e.license.to_string(),
                gated: e.gated,
                train_ram_bytes: training_ram_bytes(&config, shape),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_rows_are_sorted_and_known() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = HubConfig::from_env(None);
        cfg.cache_dir = dir.path().to_path_buf();
        let rows = catalog(&cfg, TrainShape::default()).unwrap();
        assert_eq!(rows.len(), 7);
        assert!(rows.windows(2).all(|w| w[0].params <= w[1].params));
        let p = |repo: &str| rows.iter().find(|r| r.repo == repo).unwrap().params;
        // Published parameter counts.
        assert_eq!(p("HuggingFaceTB/SmolLM2-135M-Instruct"), 134_515_008);
        assert_eq!(p("meta-llama/Llama-3.2-1B-Instruct"), 1_235_814_400);
        assert_eq!(p("Qwen/Qwen2.5-1.5B-Instruct"), 1_543_714_304);
        assert!(rows.iter().all(|r| !r.cached));
        assert!(rows.iter().filter(|r| r.gated).count() == 1);
    }
}
